import { writeFile } from 'node:fs/promises';
import { launchChromium } from '../../src/bench/chromium.js';
import type { MediaStep } from '../../src/contracts/media-step.js';
import { DEFAULT_ANALYSIS_SIZE } from '../../src/contracts/media-step.js';
import { decodeMedia } from '../../src/features/decode.js';
import { SessionFeaturizer } from '../../src/features/featurizer.js';
import { startServer } from '../server-harness.js';
import type { ParityStep } from './edge-parity.js';

/**
 * Run by browser.test.ts inside a network namespace with only loopback up: the same clip's media steps
 * featurized twice, by the server's own pipeline (its worker pool) and by the edge library in headless
 * Chromium (`/public/edge.js`, onnxruntime-web, the graphs fetched from the server), then written out
 * side by side as JSON for the test to compare. Also the browser's cost per step.
 *
 * argv: <clip> <seconds> <result.json> [backend: wasm (default) | webgpu]
 * (webgpu: Chromium's WebGPU is switched on; on a machine without a GPU its adapter is SwiftShader.)
 */

const [clip, secondsArg, resultPath, backendChoice = 'wasm'] = process.argv.slice(2) as [
  string,
  string,
  string,
  string?,
];
const seconds = Number(secondsArg);
const t = await startServer();
const { width, height } = DEFAULT_ANALYSIS_SIZE;

const steps: MediaStep[] = [];
for await (const step of decodeMedia(clip, { rateHz: 10, width, height })) {
  if (step.index >= seconds * 10) break;
  steps.push(step);
}

const server: ParityStep[] = [];
const featurizer = new SessionFeaturizer(t.server.pool, DEFAULT_ANALYSIS_SIZE);
for (const step of steps) {
  // A copy: the pool takes the frame's buffer, and the browser gets the same bytes.
  const f = await featurizer.featurize({ ...step, ...(step.frame ? { frame: step.frame.slice() } : {}) });
  server.push({
    video: [...f.video],
    audio: [...f.audio],
    face: f.face.present,
    faceMs: f.timings.faceMs,
    audioMs: f.timings.audioMs,
    detector: f.timings.detector,
  });
}

const browser = await launchChromium(
  backendChoice === 'webgpu' ? { extraArgs: ['--enable-unsafe-webgpu'] } : {},
);
let edge: ParityStep[] = [];
let backend = '';
let audioAlone: number[] = [];
let error: string | undefined;
try {
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  // Each step's media, as the page would have captured it: frame bytes, then the audio samples.
  await page.route(`${t.url}/parity/*`, async (route) => {
    const k = Number(route.request().url().split('/').at(-1));
    const step = steps[k] as MediaStep;
    const frame = step.frame ?? new Uint8Array(0);
    const body = Buffer.concat([
      Buffer.from(new Uint32Array([frame.length]).buffer),
      Buffer.from(frame),
      Buffer.from(step.audio.buffer, step.audio.byteOffset, step.audio.byteLength),
    ]);
    await route.fulfill({ status: 200, contentType: 'application/octet-stream', body });
  });
  await page.goto(`${t.url}/publish`);
  await page.addScriptTag({ url: '/public/edge.js' });
  const out = await page.evaluate(
    async ({ origin, n, meta, choice }) => {
      type Step = {
        index: number;
        t: number;
        frame?: Uint8Array;
        audio: Float32Array;
        audioCoverage: number;
      };
      const w = globalThis as unknown as {
        EriEdge: {
          openEdgeAnalysis(o: { server: string; spec: unknown; backend: string }): Promise<{
            backend: string;
            featurizer(): { featurize(step: Step): Promise<unknown> };
          }>;
        };
      };
      const model = (await (await fetch(`${origin}/v1/model`)).json()) as { card: { featureSpec: unknown } };
      const spec = model.card.featureSpec;
      const opened = await w.EriEdge.openEdgeAnalysis({ server: origin, spec, backend: choice });
      const featurizer = opened.featurizer();
      const results = [];
      for (let k = 0; k < n; k++) {
        const bytes = new Uint8Array(await (await fetch(`${origin}/parity/${k}`)).arrayBuffer());
        const frameLength = new Uint32Array(bytes.buffer.slice(0, 4))[0] as number;
        const frame = bytes.slice(4, 4 + frameLength);
        const audio = new Float32Array(bytes.buffer.slice(4 + frameLength));
        const f = (await featurizer.featurize({
          index: k,
          t: k / 10,
          ...(frameLength > 0 ? { frame } : {}),
          audio,
          audioCoverage: meta[k] as number,
        })) as unknown as {
          video: Float32Array;
          audio: Float32Array;
          face: { present: boolean };
          timings: { faceMs: number; audioMs: number; detector: boolean };
        };
        results.push({
          video: [...f.video],
          audio: [...f.audio],
          face: f.face.present,
          faceMs: f.timings.faceMs,
          audioMs: f.timings.audioMs,
          detector: f.timings.detector,
        });
      }
      // The audio's own cost: a second featurizer on the same steps without their frames, so no face
      // run is ahead of the audio in the one inference queue.
      const audioAlone: number[] = [];
      const audioOnly = opened.featurizer();
      for (let k = 0; k < n; k++) {
        const bytes = new Uint8Array(await (await fetch(`${origin}/parity/${k}`)).arrayBuffer());
        const frameLength = new Uint32Array(bytes.buffer.slice(0, 4))[0] as number;
        const f = (await audioOnly.featurize({
          index: k,
          t: k / 10,
          audio: new Float32Array(bytes.buffer.slice(4 + frameLength)),
          audioCoverage: meta[k] as number,
        })) as unknown as { timings: { audioMs: number } };
        audioAlone.push(f.timings.audioMs);
      }
      return { results, backend: opened.backend, audioAlone };
    },
    { origin: t.url, n: steps.length, meta: steps.map((s) => s.audioCoverage), choice: backendChoice },
  );
  edge = out.results;
  backend = out.backend;
  audioAlone = out.audioAlone;
  if (logs.some((l) => /error/i.test(l))) error = logs.join('\n');
} catch (e) {
  error = (e as Error).stack ?? (e as Error).message;
} finally {
  await browser.close();
}
await writeFile(
  resultPath,
  JSON.stringify({ server, edge, edgeAudioAloneMs: audioAlone, backend, error, logs: t.logs }),
);
await t.stop();
process.exit(0);
