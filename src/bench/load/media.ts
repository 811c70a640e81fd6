import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import {
  type EdgeAnalysis,
  edgeAnalysisSchema,
  edgeStepBytes,
  encodeEdgeStep,
} from '../../contracts/edge-steps.js';
import { faceAudioSpec } from '../../contracts/feature-spec.js';
import { EriError } from '../../errors.js';
import { extractFeatures } from '../../features/extract.js';
import { FeaturePool } from '../../features/pool.js';

/**
 * Media for load publishers, prepared once from a real clip: JPEG frames at 10 Hz (640x480, letterboxed)
 * and mono 16 kHz 16-bit PCM, the frame ingest's formats; and for edge publishers the clip's feature
 * steps as the server computes them, each in the edge step layout (contracts/edge-steps.ts), end to end
 * in steps.bin. The k6 scripts (`open()`) and `eri load` read the same folder: frames/00001.jpg …,
 * audio.pcm, steps.bin, media.json.
 */

const manifestSchema = z.object({
  frames: z.number().int().positive(),
  rateHz: z.number().positive(),
  sampleRate: z.number().int().positive(),
  source: z.string(),
  /** What an edge publisher of steps.bin declares in its start, and how many steps the file holds. */
  edge: z.object({ analysis: edgeAnalysisSchema, steps: z.number().int().positive() }),
});

export interface PreparedMedia {
  frames: Buffer[];
  audio: Buffer;
  rateHz: number;
  sampleRate: number;
  /** Edge publishers: the declaration and one payload per step. */
  edge: { analysis: EdgeAnalysis; steps: Buffer[] };
}

/** The clip's feature steps, each encoded as an edge publisher sends it. */
async function edgeSteps(clip: string): Promise<{ analysis: EdgeAnalysis; payloads: Uint8Array[] }> {
  const spec = faceAudioSpec();
  const layout = { videoDim: spec.video.dim, audioDim: spec.audio.dim };
  const pool = new FeaturePool({});
  try {
    const payloads: Uint8Array[] = [];
    for await (const step of extractFeatures(clip, pool)) payloads.push(encodeEdgeStep(step, layout));
    return {
      analysis: { mode: 'edge', spec: spec.id, ...layout, rateHz: spec.rateHz ?? 10 },
      payloads,
    };
  } finally {
    await pool.close();
  }
}

export async function prepareMedia(
  clip: string,
  outDir: string,
  rateHz = 10,
  sampleRate = 16_000,
): Promise<void> {
  const run = promisify(execFile);
  await mkdir(join(outDir, 'frames'), { recursive: true });
  try {
    await run('ffmpeg', [
      ...['-v', 'error', '-nostdin', '-y', '-i', clip],
      ...[
        '-vf',
        `fps=${rateHz},scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2`,
      ],
      ...['-q:v', '5', join(outDir, 'frames', '%05d.jpg')],
    ]);
  } catch (cause) {
    throw new EriError('ERI_ERR_MEDIA_DECODE', `cannot prepare ${clip}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const frames = (await readdir(join(outDir, 'frames'))).filter((f) => f.endsWith('.jpg')).length;
  if (frames === 0) throw new EriError('ERI_ERR_MEDIA_DECODE', `${clip} gave no video frames`);
  const pcm = ['-ac', '1', '-ar', String(sampleRate), '-f', 's16le', join(outDir, 'audio.pcm')];
  // The clip's first audio track, or silence as long as the frames when it has none.
  await run('ffmpeg', ['-v', 'error', '-nostdin', '-y', '-i', clip, '-map', '0:a:0', ...pcm]).catch(() =>
    run('ffmpeg', [
      ...['-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', `anullsrc=r=${sampleRate}:cl=mono`],
      ...['-t', String(frames / rateHz), ...pcm],
    ]),
  );
  const edge = await edgeSteps(clip);
  await writeFile(join(outDir, 'steps.bin'), Buffer.concat(edge.payloads));
  const manifest = {
    frames,
    rateHz,
    sampleRate,
    source: clip,
    edge: { analysis: edge.analysis, steps: edge.payloads.length },
  };
  await writeFile(join(outDir, 'media.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

export async function loadPreparedMedia(dir: string): Promise<PreparedMedia> {
  let manifest: z.infer<typeof manifestSchema>;
  try {
    manifest = manifestSchema.parse(JSON.parse(await readFile(join(dir, 'media.json'), 'utf8')));
  } catch (cause) {
    throw new EriError(
      'ERI_ERR_INVALID_ARGUMENT',
      `${dir} holds no prepared media (eri load prepare <clip> --out ${dir}): ${(cause as Error).message}`,
      { cause },
    );
  }
  const frames = await Promise.all(
    Array.from({ length: manifest.frames }, (_, i) =>
      readFile(join(dir, 'frames', `${String(i + 1).padStart(5, '0')}.jpg`)),
    ),
  );
  const steps = await readFile(join(dir, 'steps.bin'));
  const size = edgeStepBytes(manifest.edge.analysis);
  if (steps.length !== size * manifest.edge.steps)
    throw new EriError(
      'ERI_ERR_INVALID_ARGUMENT',
      `${dir}/steps.bin is not ${manifest.edge.steps} steps of ${size} bytes`,
    );
  return {
    frames,
    audio: await readFile(join(dir, 'audio.pcm')),
    rateHz: manifest.rateHz,
    sampleRate: manifest.sampleRate,
    edge: {
      analysis: manifest.edge.analysis,
      steps: Array.from({ length: manifest.edge.steps }, (_, i) => steps.subarray(i * size, (i + 1) * size)),
    },
  };
}
