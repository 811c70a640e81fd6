import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildCropGraph } from '../features/face/crop-graphs.js';
import { FACE_INPUT_SIZES, type FaceNetworkId, roiOf } from '../features/face/face-graphs.js';
import { convertedNetwork, humanModelsDir } from '../features/face/face-networks.js';
import { loadReferenceModel } from '../onnx/tfjs/tfjs-reference.js';
import { fmt } from './harness.js';

/**
 * Each face network on tfjs (WebAssembly, the former runtime) and on onnxruntime (converted), at batch 1
 * and batch 8, one thread, side by side in one run; and the crops as ONNX graphs against sharp (libvips),
 * the image library that would be the alternative (timed when it is installed: `npm i --no-save sharp`).
 */

const NETWORKS: { id: FaceNetworkId; file: string; size: number; channels: number; tfjsBatch: boolean }[] = [
  // BlazeFace's placeholder is fixed at batch 1 in tfjs.
  { id: 'detector', file: 'blazeface.json', size: 256, channels: 3, tfjsBatch: false },
  { id: 'mesh', file: 'facemesh.json', size: 192, channels: 3, tfjsBatch: true },
  { id: 'iris', file: 'iris.json', size: 64, channels: 3, tfjsBatch: true },
  { id: 'expression', file: 'emotion.json', size: 64, channels: 1, tfjsBatch: true },
];

export interface NetworkTiming {
  network: FaceNetworkId;
  /** ms per item; undefined where that runtime cannot take the batch. */
  tfjs: { batch1: number; batch8?: number };
  onnx: { batch1: number; batch8: number };
}

export interface CropTiming {
  crop: string;
  onnxMs: number;
  sharpMs?: number;
}

async function perCall(fn: () => unknown | Promise<unknown>, calls: number): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await fn();
  return (performance.now() - t0) / calls;
}

function input(n: number, size: number, channels: number): Float32Array {
  const x = new Float32Array(n * size * size * channels);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.013) * 0.8;
  return x;
}

export async function runNetworkTimings(calls = 20): Promise<NetworkTiming[]> {
  const out: NetworkTiming[] = [];
  for (const n of NETWORKS) {
    const { bytes } = await convertedNetwork(n.id);
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    const reference = await loadReferenceModel(join(humanModelsDir(), n.file));
    const name = session.inputNames[0] as string;
    const onnx = async (batch: number) => {
      const x = new ort.Tensor('float32', input(batch, n.size, n.channels), [
        batch,
        n.size,
        n.size,
        n.channels,
      ]);
      return (
        (await perCall(() => session.run({ [name]: x }), Math.max(3, Math.round(calls / batch)))) / batch
      );
    };
    const tfjs = async (batch: number) => {
      const x = input(batch, n.size, n.channels);
      const dims = [batch, n.size, n.size, n.channels];
      return (
        (await perCall(
          () => reference.run(x, dims, session.outputNames),
          Math.max(3, Math.round(calls / batch)),
        )) / batch
      );
    };
    out.push({
      network: n.id,
      tfjs: { batch1: await tfjs(1), ...(n.tfjsBatch ? { batch8: await tfjs(8) } : {}) },
      onnx: { batch1: await onnx(1), batch8: await onnx(8) },
    });
    reference.dispose();
    await session.release();
  }
  return out;
}

type Sharp = (
  input: Buffer,
  o: { raw: { width: number; height: number; channels: 3 } },
) => {
  extract(r: { left: number; top: number; width: number; height: number }): ReturnType<Sharp>;
  resize(w: number, h: number, o: { kernel: string; fit?: string }): ReturnType<Sharp>;
  greyscale(): ReturnType<Sharp>;
  raw(): { toBuffer(): Promise<Buffer> };
};

export async function runCropTimings(calls = 50): Promise<CropTiming[]> {
  const { width, height } = { width: 640, height: 480 };
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7) & 255;
  const frame = new ort.Tensor('float32', Float32Array.from(rgb), [1, height, width, 3]);
  const box: [number, number, number, number] = [200, 100, 450, 350];
  const roi = new ort.Tensor('float32', roiOf(box, width, height), [8]);
  const open = (id: Parameters<typeof buildCropGraph>[0]) =>
    ort.InferenceSession.create(buildCropGraph(id, FACE_INPUT_SIZES), { intraOpNumThreads: 1 });
  const [detectorInput, meshCrop, expressionCrop] = await Promise.all([
    open('detectorInput'),
    open('meshCrop'),
    open('expressionCrop'),
  ]);
  const sharpModule = (await import('sharp' as string).catch(() => undefined)) as
    | { default: Sharp & { concurrency(n: number): void } }
    | undefined;
  const sharp = sharpModule?.default;
  sharp?.concurrency(1);
  const image = () => (sharp as Sharp)(rgb, { raw: { width, height, channels: 3 } });
  const region = { left: box[0], top: box[1], width: box[2] - box[0], height: box[3] - box[1] };
  const rows: CropTiming[] = [
    {
      crop: 'detector input (frame -> 256x256)',
      onnxMs: await perCall(() => detectorInput.run({ frame }), calls),
      ...(sharp
        ? {
            sharpMs: await perCall(
              () => image().resize(256, 256, { kernel: 'linear', fit: 'fill' }).raw().toBuffer(),
              calls,
            ),
          }
        : {}),
    },
    {
      crop: 'mesh crop (box -> 192x192)',
      onnxMs: await perCall(() => meshCrop.run({ frame, roi }), calls),
      ...(sharp
        ? {
            sharpMs: await perCall(
              () => image().extract(region).resize(192, 192, { kernel: 'linear' }).raw().toBuffer(),
              calls,
            ),
          }
        : {}),
    },
    {
      crop: 'expression crop (box -> 64x64 grey)',
      onnxMs: await perCall(() => expressionCrop.run({ frame, roi }), calls),
      ...(sharp
        ? {
            sharpMs: await perCall(
              () => image().extract(region).resize(64, 64, { kernel: 'linear' }).greyscale().raw().toBuffer(),
              calls,
            ),
          }
        : {}),
    },
  ];
  await Promise.all([detectorInput.release(), meshCrop.release(), expressionCrop.release()]);
  return rows;
}

export function formatNetworkTimings(rows: readonly NetworkTiming[]): string[][] {
  const ratio = (a: number | undefined, b: number) => (a === undefined ? '-' : `${(a / b).toFixed(2)}x`);
  return [
    ['network (ms per item, 1 thread)', 'tfjs b1', 'onnx b1', 'speed-up', 'tfjs b8', 'onnx b8', 'speed-up'],
    ...rows.map((r) => [
      r.network,
      fmt(r.tfjs.batch1),
      fmt(r.onnx.batch1),
      ratio(r.tfjs.batch1, r.onnx.batch1),
      r.tfjs.batch8 === undefined ? '-' : fmt(r.tfjs.batch8),
      fmt(r.onnx.batch8),
      ratio(r.tfjs.batch8, r.onnx.batch8),
    ]),
  ];
}

export function formatCropTimings(rows: readonly CropTiming[]): string[][] {
  return [
    ['crop (ms per call, 1 thread)', 'onnx graph', 'sharp', 'sharp / onnx'],
    ...rows.map((r) => [
      r.crop,
      fmt(r.onnxMs),
      r.sharpMs === undefined ? 'not installed' : fmt(r.sharpMs),
      r.sharpMs === undefined ? '-' : `${(r.sharpMs / r.onnxMs).toFixed(2)}x`,
    ]),
  ];
}
