import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishFile } from '../cli/publish.js';
import { synthesizeClip } from '../features/synthetic-clip.js';
import { initRandomPackage } from '../model/package-tools.js';
import { loadServerConfig } from '../server/config.js';
import { EriServer } from '../server/server.js';
import { describeMachine, machineInfo } from './harness.js';
import { processCpuSeconds } from './proc-usage.js';

/**
 * `eri bench ingest`: N publishers send a 640x480 30 fps clip (H.264 + Opus, via `eri publish`) to an
 * in-process server. Reports the server-side decoder's CPU per stream (ffmpeg: RTP in, 640x480 RGB at
 * 10 fps + 16 kHz audio out) and capture-to-features latency (a step's media end, on the session's clock,
 * to its features being ready: transport, decoding, alignment and feature extraction).
 */

export interface IngestBenchResult {
  machine: ReturnType<typeof machineInfo>;
  seconds: number;
  runs: {
    streams: number;
    decoderCpuPercentPerStream: number;
    captureToFeaturesMs: { median: number; p95: number };
    faceCoverage: number;
    stepsWithoutFrame: number;
  }[];
}

export async function runIngestBench(
  o: { streams?: number[]; seconds?: number } = {},
): Promise<IngestBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'eri-bench-'));
  const seconds = o.seconds ?? 15;
  try {
    await initRandomPackage(join(dir, 'model'), { seed: 1 });
    const clip = join(dir, 'clip.mkv');
    await synthesizeClip(clip, { seconds, fps: 30, pattern: 'testsrc2' });
    const server = await EriServer.create(
      loadServerConfig({}, { port: 0, insecureDev: true, dataDir: join(dir, 'data') }),
      join(dir, 'model'),
    );
    const url = await server.listen();
    const runs: IngestBenchResult['runs'] = [];
    try {
      for (const streams of o.streams ?? [1, 2]) {
        const ended: {
          stats?: {
            captureToFeaturesMs: { median: number; p95: number };
            stepsWithoutFrame: number;
            steps: number;
          };
        }[] = [];
        const sub = server.registry.events$.subscribe((e) => {
          if (e.type === 'session.ended') ended.push(e as never);
        });
        const faces: number[] = [];
        const cpu: Promise<number>[] = [];
        await Promise.all(
          Array.from({ length: streams }, (_, i) =>
            publishFile(clip, {
              server: url,
              room: 'bench',
              session: `bench-${streams}-${i}`,
              onStarted: ({ sessionId }) => {
                // Sample the session's decoder CPU over the middle of the run.
                cpu.push(
                  (async () => {
                    await new Promise((r) => setTimeout(r, 3000));
                    const pid = [...server.signalling].find((c) => c.session?.id === sessionId)?.tap
                      ?.decoderPid;
                    if (!pid) return 0;
                    const t0 = await processCpuSeconds(pid);
                    const w0 = performance.now();
                    await new Promise((r) => setTimeout(r, (seconds - 5) * 1000));
                    return ((await processCpuSeconds(pid)) - t0) / ((performance.now() - w0) / 1000);
                  })(),
                );
              },
            }).then((r) => faces.push(r.final?.coverage.face ?? 0)),
          ),
        );
        await new Promise((r) => setTimeout(r, 500));
        sub.unsubscribe();
        const cpus = await Promise.all(cpu);
        const lat = ended.map((e) => e.stats?.captureToFeaturesMs ?? { median: 0, p95: 0 });
        runs.push({
          streams,
          decoderCpuPercentPerStream: (100 * cpus.reduce((a, b) => a + b, 0)) / Math.max(1, cpus.length),
          captureToFeaturesMs: {
            median: lat.reduce((a, b) => a + b.median, 0) / Math.max(1, lat.length),
            p95: Math.max(0, ...lat.map((l) => l.p95)),
          },
          faceCoverage: faces.reduce((a, b) => a + b, 0) / Math.max(1, faces.length),
          stepsWithoutFrame: ended.reduce((a, e) => a + (e.stats?.stepsWithoutFrame ?? 0), 0),
        });
      }
    } finally {
      await server.close();
    }
    return { machine: machineInfo(), seconds, runs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatIngestBench(r: IngestBenchResult): string {
  return [
    `machine: ${describeMachine(r.machine)}`,
    `publishers send a ${r.seconds} s 640x480 30 fps clip (testsrc2 + sine) as H.264 + Opus; the server decodes to 640x480 RGB at 10 fps`,
    '',
    'streams  decoder CPU % per stream  capture->features median ms  p95 ms  steps without frame',
    ...r.runs.map(
      (x) =>
        `${String(x.streams).padStart(7)}  ${x.decoderCpuPercentPerStream.toFixed(1).padStart(24)}  ${x.captureToFeaturesMs.median.toFixed(0).padStart(27)}  ${x.captureToFeaturesMs.p95.toFixed(0).padStart(6)}  ${String(x.stepsWithoutFrame).padStart(19)}`,
    ),
  ].join('\n');
}
