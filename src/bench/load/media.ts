import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { EriError } from '../../errors.js';

/**
 * Media for load publishers, prepared once from a real clip: JPEG frames at 10 Hz (640x480, letterboxed)
 * and mono 16 kHz 16-bit PCM, the frame ingest's formats. The k6 scripts (`open()`) and `eri load` read
 * the same folder: frames/00001.jpg …, audio.pcm, media.json.
 */

const manifestSchema = z.object({
  frames: z.number().int().positive(),
  rateHz: z.number().positive(),
  sampleRate: z.number().int().positive(),
  source: z.string(),
});

export interface PreparedMedia {
  frames: Buffer[];
  audio: Buffer;
  rateHz: number;
  sampleRate: number;
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
  await writeFile(
    join(outDir, 'media.json'),
    `${JSON.stringify({ frames, rateHz, sampleRate, source: clip }, null, 2)}\n`,
  );
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
  return {
    frames,
    audio: await readFile(join(dir, 'audio.pcm')),
    rateHz: manifest.rateHz,
    sampleRate: manifest.sampleRate,
  };
}
