import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import WebSocket from 'ws';
import { preEncodeForPublish, publishFile } from '../cli/publish.js';
import type { FaceBackendKind } from '../features/face/face-vector.js';
import { synthesizeClip } from '../features/synthetic-clip.js';
import { initRandomPackage } from '../model/package-tools.js';
import { loadServerConfig } from '../server/config.js';
import { EriServer } from '../server/server.js';
import type { SessionStats } from '../sessions/session.js';
import { describeMachine, machineInfo, type Summary, summarize, table } from './harness.js';
import {
  type Buckets,
  bucketQuantile,
  bucketsBetween,
  bucketTotal,
  fractionWithin,
  readBuckets,
  readCounter,
} from './histogram-window.js';

/**
 * `eri bench e2e`: N live publishers (`eri publish`: ffmpeg -> H.264/Opus RTP -> mediasoup -> the tap's
 * ffmpeg -> features -> model) and M subscribers on their room, all real, against an in-process server.
 * Per N: analysed faces vs steps (a step whose face could not be analysed in time is "dropped"), capture
 * -> features and estimate latency, subscriber delivery latency, and the server's memory per session
 * (RSS growth over idle, and its drift between the first and last third of the run).
 */

export interface E2eRun {
  sessions: number;
  steps: number;
  droppedFaceFraction: number;
  /** Steps with no video frame in time (not decoded, not arrived). */
  noFrameFraction: number;
  /** Steps whose features hold a face (the clip shows one throughout). */
  faceFraction: number;
  captureToFeaturesMs: { median: number; p95: number };
  /**
   * Capture -> features of the steps after the first STEADY_AFTER_S of the run (the sessions' start-up,
   * waiting for a first keyframe, left out), from the server's histogram: p95 interpolated in its
   * buckets, and the exact fraction of steps within 400 ms; and the faces dropped among those steps.
   */
  steady: { steps: number; p95Ms: number; within400ms: number; droppedFaceFraction: number };
  estimateLatencyMs: number;
  delivery: Summary;
  rssPerSessionMiB: number;
  /** RSS growth per session added since the previous (smaller) run: what one more viewer costs. */
  rssMarginalMiB: number | null;
  rssDriftMiB: number;
  /** The server process's RSS at the end of each minute of the run (MiB). */
  rssByMinuteMiB: number[];
  /** Its RSS 2 s after the sessions ended (their final estimates made) (MiB). */
  rssAfterEndMiB: number;
}

export interface E2eResult {
  machine: ReturnType<typeof machineInfo>;
  clip: string;
  seconds: number;
  subscribers: number;
  idleRssMiB: number;
  runs: E2eRun[];
}

const MiB = 2 ** 20;
const STEADY_AFTER_S = 5;

interface SteadyMark {
  latency: Buckets;
  steps: number;
  droppedFaces: number;
}

async function steadyMark(registry: Registry): Promise<SteadyMark> {
  return {
    latency: await readBuckets(registry, 'eri_capture_to_features_seconds'),
    steps: await readCounter(registry, 'eri_steps_total'),
    droppedFaces: await readCounter(registry, 'eri_dropped_face_steps_total'),
  };
}

/** A `/v1/stream` subscriber on a room, recording each running estimate's delivery latency (ms). */
export function subscribe(url: string, room: string, delivery: number[]): WebSocket {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream`, { perMessageDeflate: false });
  ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', id: 1, target: { roomId: room } })));
  ws.on('message', (d) => {
    const m = JSON.parse(String(d));
    if (m.type === 'estimate' && !m.data.final) delivery.push(Date.now() - Date.parse(m.data.wallTime));
  });
  ws.on('error', () => {});
  return ws;
}

export async function runE2eBench(
  o: {
    sessions?: number[];
    seconds?: number;
    subscribers?: number;
    clip?: string;
    faceBackend?: FaceBackendKind;
    faceBatch?: number;
  } = {},
): Promise<E2eResult> {
  const dir = await mkdtemp(join(tmpdir(), 'eri-bench-'));
  const seconds = o.seconds ?? 30;
  const subscribers = o.subscribers ?? 20;
  try {
    await initRandomPackage(join(dir, 'model'), { seed: 1 });
    // The clip, looped to the run's length (a face in it makes the face analysis cost what it costs live),
    // encoded once as eri publish would: the publishers then only send packets, so the CPU measured is
    // the server's (live viewers' browsers do their own encoding, on their own machines).
    const source = o.clip ?? join(dir, 'synthetic.mkv');
    if (!o.clip) await synthesizeClip(source, { seconds, fps: 30, pattern: 'testsrc2' });
    const clip = join(dir, 'clip.ts');
    await preEncodeForPublish(source, clip, { seconds });
    const server = await EriServer.create(
      loadServerConfig(
        {},
        {
          port: 0,
          insecureDev: true,
          dataDir: join(dir, 'data'),
          faceBackend: o.faceBackend ?? 'onnx',
          ...(o.faceBatch ? { faceBatch: o.faceBatch } : {}),
        },
      ),
      join(dir, 'model'),
    );
    const url = await server.listen();
    await new Promise((r) => setTimeout(r, 2000));
    const idleRss = process.memoryUsage().rss;
    const runs: E2eRun[] = [];
    try {
      for (const n of o.sessions ?? [1, 2, 4, 8]) {
        const room = `e2e-${n}`;
        const delivery: number[] = [];
        const sockets = Array.from({ length: subscribers }, () => subscribe(url, room, delivery));
        const ended: SessionStats[] = [];
        const sub = server.registry.events$.subscribe((e) => {
          if (e.type === 'session.ended' && e.stats) ended.push(e.stats);
        });
        const rss: number[] = [];
        const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 1000);
        const steadyFrom = new Promise<SteadyMark>((resolve) =>
          setTimeout(() => resolve(steadyMark(server.metrics.registry)), STEADY_AFTER_S * 1000),
        );
        await Promise.all(
          Array.from({ length: n }, (_, i) =>
            publishFile(clip, { server: url, room, session: `${room}-${i}`, preEncoded: true }),
          ),
        );
        clearInterval(sampler);
        const from = await steadyFrom;
        const to = await steadyMark(server.metrics.registry);
        const steady = bucketsBetween(from.latency, to.latency);
        const steadySteps = to.steps - from.steps;
        await new Promise((r) => setTimeout(r, 2000));
        const rssAfterEnd = process.memoryUsage().rss;
        sub.unsubscribe();
        for (const s of sockets) s.close();
        const third = Math.max(1, Math.floor(rss.length / 3));
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
        const steps = ended.reduce((a, s) => a + s.steps, 0);
        const growth = mean(rss.slice(third)) - idleRss;
        const previous = runs.at(-1);
        runs.push({
          sessions: n,
          steps,
          droppedFaceFraction: steps ? ended.reduce((a, s) => a + s.droppedFaceSteps, 0) / steps : 0,
          noFrameFraction: steps ? ended.reduce((a, s) => a + s.stepsWithoutFrame, 0) / steps : 0,
          faceFraction: steps ? ended.reduce((a, s) => a + s.faceSteps, 0) / steps : 0,
          captureToFeaturesMs: {
            median: mean(ended.map((s) => s.captureToFeaturesMs.median)),
            p95: Math.max(0, ...ended.map((s) => s.captureToFeaturesMs.p95)),
          },
          steady: {
            steps: bucketTotal(steady),
            p95Ms: 1000 * bucketQuantile(steady, 0.95),
            within400ms: fractionWithin(steady, 0.4),
            droppedFaceFraction: steadySteps
              ? (to.droppedFaces - from.droppedFaces) / steadySteps
              : Number.NaN,
          },
          estimateLatencyMs: mean(ended.map((s) => s.lastEstimateLatencyMs)),
          delivery: summarize(delivery),
          rssPerSessionMiB: growth / MiB / n,
          rssMarginalMiB: previous
            ? (growth / MiB - previous.rssPerSessionMiB * previous.sessions) / (n - previous.sessions)
            : null,
          rssDriftMiB: (mean(rss.slice(-third)) - mean(rss.slice(0, third))) / MiB,
          rssByMinuteMiB: rss.filter((_, i) => (i + 1) % 60 === 0).map((v) => v / MiB),
          rssAfterEndMiB: rssAfterEnd / MiB,
        });
        await new Promise((r) => setTimeout(r, 2000));
      }
    } finally {
      await server.close();
    }
    return {
      machine: machineInfo(),
      clip: o.clip ?? 'synthetic testsrc2 (no face)',
      seconds,
      subscribers,
      idleRssMiB: idleRss / MiB,
      runs,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatE2eBench(r: E2eResult): string {
  return [
    `machine: ${describeMachine(r.machine)}`,
    `${r.seconds} s per run of ${r.clip}; ${r.subscribers} subscribers on the room; idle server RSS ${r.idleRssMiB.toFixed(0)} MiB`,
    '',
    table([
      [
        'sessions',
        'steps',
        'with face',
        'no frame',
        'faces dropped',
        'capture->features median/p95 ms',
        `after ${STEADY_AFTER_S} s: dropped`,
        'p95 ms',
        'within 400 ms',
        'estimate ms',
        'delivery p50/p99 ms',
        'RSS/session MiB',
        'marginal MiB',
        'RSS drift MiB',
      ],
      ...r.runs.map((x) => [
        String(x.sessions),
        String(x.steps),
        percent(x.faceFraction),
        percent(x.noFrameFraction),
        percent(x.droppedFaceFraction),
        `${x.captureToFeaturesMs.median.toFixed(0)} / ${x.captureToFeaturesMs.p95.toFixed(0)}`,
        percent(x.steady.droppedFaceFraction),
        Number.isNaN(x.steady.p95Ms) ? '-' : x.steady.p95Ms.toFixed(0),
        percent(x.steady.within400ms),
        x.estimateLatencyMs.toFixed(0),
        `${x.delivery.medianMs.toFixed(0)} / ${x.delivery.p99Ms.toFixed(0)}`,
        x.rssPerSessionMiB.toFixed(1),
        x.rssMarginalMiB === null ? '-' : x.rssMarginalMiB.toFixed(1),
        x.rssDriftMiB.toFixed(1),
      ]),
    ]),
    ...r.runs
      .filter((x) => x.rssByMinuteMiB.length > 1)
      .map(
        (x) =>
          `${x.sessions} session${x.sessions > 1 ? 's' : ''}: RSS by minute ${x.rssByMinuteMiB.map((v) => v.toFixed(0)).join(', ')} MiB; 2 s after they ended ${x.rssAfterEndMiB.toFixed(0)} MiB`,
      ),
  ].join('\n');
}

/** A fraction as a percentage; '-' where there was nothing to count (a run no longer than STEADY_AFTER_S). */
function percent(fraction: number): string {
  return Number.isNaN(fraction) ? '-' : `${(100 * fraction).toFixed(1)} %`;
}
