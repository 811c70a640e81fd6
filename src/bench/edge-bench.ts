import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IngestClient, type IngestServerMessage } from '../../packages/client/src/index.js';
import type { EdgeAnalysis } from '../contracts/edge-steps.js';
import { type FeatureSpec, faceAudioSpec } from '../contracts/feature-spec.js';
import type { FeatureStep } from '../contracts/feature-step.js';
import { extractFeatures } from '../features/extract.js';
import { FeaturePool } from '../features/pool.js';
import { synthesizeClip } from '../features/synthetic-clip.js';
import { initRandomPackage } from '../model/package-tools.js';
import { subscribe } from './e2e-bench.js';
import { describeMachine, machineInfo, type Summary, summarize } from './harness.js';
import { processCpuSeconds, processRssMiB } from './proc-usage.js';
import { spawnEriServe } from './serve-process.js';

/**
 * `eri bench e2e --edge`: N simulated edge publishers (each an IngestClient sending recorded feature
 * steps of a real clip in real time, as a viewer's browser in edge mode does) and M subscribers on
 * their room, against `eri serve` in a child process, so the server's own CPU and memory are read
 * apart from the publishers'. Per N: steps sent, dropped (refused with an error, or not covered by
 * the sessions' final estimates), estimate latency (the window's last step sent -> its estimate back at the publisher),
 * delivery to subscribers, the server's CPU and RSS.
 */

export interface EdgeRun {
  sessions: number;
  stepsSent: number;
  /** Steps the server refused or did not count, over steps sent. */
  droppedFraction: number;
  errors: number;
  estimates: number;
  /** The window's last step sent -> its running estimate at the publisher (ms). */
  estimateLatency: Summary;
  /** The server's own part: the window's last step ready -> its estimate made (the estimate's latencyMs). */
  serverLatency: Summary;
  /** The publishers' and subscribers' process (this one), in cores: it shares the machine. */
  loadCores: number;
  delivery: Summary;
  /** The server process's CPU over the run, in cores (2 = both cores of this machine busy). */
  serverCores: number;
  serverRssMiB: number;
}

export interface EdgeResult {
  machine: ReturnType<typeof machineInfo>;
  clip: string;
  seconds: number;
  subscribers: number;
  /** The server's stride (ERI_STRIDE_SECONDS): one estimate per session per stride. */
  strideSeconds: number;
  idleRssMiB: number;
  runs: EdgeRun[];
}

const RATE = 10;

/** utime + stime of a process, in seconds, and its RSS in MiB (Linux /proc). */
async function processUsage(pid: number): Promise<{ cpuSeconds: number; rssMiB: number }> {
  return { cpuSeconds: await processCpuSeconds(pid), rssMiB: await processRssMiB(pid) };
}

/** A clip's features as the server computes them, once, looped to the run's length by the publishers. */
async function recordSteps(clip: string): Promise<FeatureStep[]> {
  const pool = new FeaturePool({});
  try {
    const steps: FeatureStep[] = [];
    for await (const step of extractFeatures(clip, pool)) steps.push(step);
    return steps;
  } finally {
    await pool.close();
  }
}

function analysisOf(spec: FeatureSpec): EdgeAnalysis {
  return { mode: 'edge', spec: spec.id, videoDim: spec.video.dim, audioDim: spec.audio.dim, rateHz: RATE };
}

async function runOnce(
  url: string,
  pid: number,
  n: number,
  o: { seconds: number; subscribers: number; strideSeconds: number },
  recorded: FeatureStep[],
): Promise<EdgeRun> {
  const room = `edge-${n}`;
  const delivery: number[] = [];
  const sockets = Array.from({ length: o.subscribers }, () => subscribe(url, room, delivery));
  const spec = faceAudioSpec();
  const latency: number[] = [];
  const serverLatency: number[] = [];
  let errors = 0;
  let estimates = 0;
  const counted: number[] = [];
  const clients = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const client = await IngestClient.connect(url);
      const sentAt: number[] = [];
      let endedNow: () => void = () => {};
      const ended = new Promise<void>((resolve) => {
        endedNow = resolve;
      });
      const started = new Promise<void>((resolve) => {
        client.messages$.subscribe({
          next: (m: IngestServerMessage) => {
            if (m.type === 'started') resolve();
            if (m.type === 'error') errors++;
            if (m.type === 'estimate' && m.data.final) counted.push(m.data.steps);
            if (m.type === 'session.ended') endedNow();
            if (m.type === 'estimate' && !m.data.final) {
              estimates++;
              serverLatency.push(m.data.latencyMs);
              const last = Math.round(m.data.windowEnd * RATE) - 1;
              const at = sentAt[last];
              if (at !== undefined) latency.push(Date.now() - at);
            }
          },
          error: () => resolve(),
        });
      });
      client.start(room, { sessionId: `${room}-${i}`, analysis: analysisOf(spec) });
      await started;
      return { client, sentAt, ended };
    }),
  );
  await new Promise((r) => setTimeout(r, 500));
  const before = await processUsage(pid);
  const load = process.cpuUsage();
  const steps = o.seconds * RATE;
  const t0 = performance.now();
  let stepsSent = 0;
  // Publishers that joined at independent moments: their first steps spread over one stride, so their
  // strides' estimates do too. (All starting in the same 100 ms would ask for every session's estimate
  // in the same 100 ms, once a stride: a worst case, not an audience.)
  await Promise.all(
    clients.map(async ({ client, sentAt }, i) => {
      const offset = (i / n) * o.strideSeconds * 1000;
      for (let k = 0; k < steps; k++) {
        const wait = t0 + offset + (k * 1000) / RATE - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const step = recorded[k % recorded.length] as FeatureStep;
        sentAt[k] = Date.now();
        client.features({ ...step, index: k, t: k / RATE });
        stepsSent++;
      }
    }),
  );
  const after = await processUsage(pid);
  const loadUsed = process.cpuUsage(load);
  const wall = (performance.now() - t0) / 1000;
  await Promise.all(
    clients.map(async ({ client, ended }) => {
      client.end();
      await Promise.race([ended, new Promise((r) => setTimeout(r, 15_000))]);
    }),
  );
  await new Promise((r) => setTimeout(r, 1000));
  for (const { client } of clients) client.close();
  for (const s of sockets) s.close();
  const kept = counted.reduce((a, b) => a + b, 0);
  return {
    sessions: n,
    stepsSent,
    // A refused step answers with an error; a step missing at the end is one the final did not cover.
    droppedFraction: stepsSent ? (errors + Math.max(0, stepsSent - kept)) / stepsSent : 0,
    errors,
    estimates,
    estimateLatency: summarize(latency),
    serverLatency: summarize(serverLatency),
    loadCores: (loadUsed.user + loadUsed.system) / 1e6 / wall,
    delivery: summarize(delivery),
    serverCores: (after.cpuSeconds - before.cpuSeconds) / wall,
    serverRssMiB: after.rssMiB,
  };
}

export async function runEdgeBench(
  o: {
    sessions?: number[];
    seconds?: number;
    subscribers?: number;
    clip?: string;
    strideSeconds?: number;
  } = {},
): Promise<EdgeResult> {
  const strideSeconds = o.strideSeconds ?? 1;
  const dir = await mkdtemp(join(tmpdir(), 'eri-edge-bench-'));
  const seconds = o.seconds ?? 30;
  const subscribers = o.subscribers ?? 20;
  try {
    await initRandomPackage(join(dir, 'model'), { seed: 1 });
    const clip = o.clip ?? (await synthesizeClip(join(dir, 'synthetic.mkv'), { seconds: 10, fps: 30 }));
    const recorded = await recordSteps(clip);
    const { child, url } = await spawnEriServe(
      join(dir, 'model'),
      {
        ERI_DATA_DIR: join(dir, 'data'),
        ERI_STRIDE_SECONDS: String(strideSeconds),
        ERI_MAX_SESSIONS: '1000',
        ERI_MAX_SESSIONS_PER_TOKEN: '1000',
        ERI_LOG_LEVEL: 'warn',
      },
      120_000,
    );
    try {
      const pid = child.pid as number;
      await new Promise((r) => setTimeout(r, 2000));
      const idle = await processUsage(pid);
      const runs: EdgeRun[] = [];
      for (const n of o.sessions ?? [16, 32, 64, 128]) {
        runs.push(await runOnce(url, pid, n, { seconds, subscribers, strideSeconds }, recorded));
        await new Promise((r) => setTimeout(r, 2000));
      }
      return {
        machine: machineInfo(),
        clip: o.clip ?? 'synthetic (no face)',
        seconds,
        subscribers,
        strideSeconds,
        idleRssMiB: idle.rssMiB,
        runs,
      };
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatEdgeBench(r: EdgeResult): string {
  const ms = (s: Summary) => `${s.medianMs.toFixed(0)} / ${s.p95Ms.toFixed(0)}`;
  return [
    `machine: ${describeMachine(r.machine)}`,
    `edge publishers sending recorded feature steps of ${r.clip} at 10 Hz for ${r.seconds} s; an estimate every ${r.strideSeconds} s; ${r.subscribers} subscribers on the room; eri serve idle RSS ${r.idleRssMiB.toFixed(0)} MiB`,
    '',
    'sessions  steps sent  dropped  errors  estimates  estimate latency p50/p95 ms  of it, server p50/p95 ms  delivery p50/p95 ms  server cores  load cores  server RSS MiB',
    ...r.runs.map(
      (x) =>
        `${String(x.sessions).padStart(8)}  ${String(x.stepsSent).padStart(10)}  ${`${(100 * x.droppedFraction).toFixed(2)} %`.padStart(7)}  ${String(x.errors).padStart(6)}  ${String(x.estimates).padStart(9)}  ${ms(x.estimateLatency).padStart(27)}  ${ms(x.serverLatency).padStart(24)}  ${ms(x.delivery).padStart(19)}  ${x.serverCores.toFixed(2).padStart(12)}  ${x.loadCores.toFixed(2).padStart(10)}  ${x.serverRssMiB.toFixed(0).padStart(14)}`,
    ),
  ].join('\n');
}
