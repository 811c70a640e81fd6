import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EMOTIONS } from '../../src/contracts/emotions.js';
import { type PortraitName, portraitPath } from '../../src/dataset/portraits.js';
import { mulberry32 } from '../../src/model/init.js';

/**
 * A small Hume-Reaction-format dataset made with ffmpeg: a public-domain portrait, tilted by a roll angle,
 * with a tone or pink noise of some pitch and loudness. Every label is a fixed function of what the clip
 * shows and sounds like (see `labelsOf`), and every one of those properties reaches the features (head
 * pose roll; the face's identity in the expression embedding; log-mel pitch, energy and flatness), so a
 * model that learns anything beats predicting the training mean.
 */

export interface SyntheticClipSpec {
  id: string;
  split: 'Train' | 'Val';
  portrait: PortraitName;
  /** Head roll in radians, in [-0.3, 0.3]. */
  roll: number;
  /** Tone pitch in Hz, in [200, 1600] (noise clips ignore it). */
  pitch: number;
  /** Loudness, 0 (−30 dB) … 1 (0 dB). */
  loudness: number;
  noise: boolean;
}

const clamp = (x: number) => Math.min(1, Math.max(0, x));

export function labelsOf(c: SyntheticClipSpec): number[] {
  const roll = (c.roll + 0.3) / 0.6;
  const pitch = c.noise ? 0.5 : (c.pitch - 200) / 1400;
  const byName: Record<(typeof EMOTIONS)[number], number> = {
    Adoration: roll,
    Amusement: pitch,
    Anxiety: c.loudness,
    Disgust: c.portrait === 'grace_hopper' ? 0.8 : 0.2,
    'Empathic-Pain': 1 - pitch,
    Fear: 0.5 * roll + 0.5 * c.loudness,
    Surprise: c.noise ? 0.9 : 0.1,
  };
  return EMOTIONS.map((e) => Number(clamp(byName[e]).toFixed(4)));
}

export function syntheticSpecs(count: number, seed = 1, valFraction = 1 / 3): SyntheticClipSpec[] {
  const rnd = mulberry32(seed); // deterministic: the same dataset on every machine
  return Array.from({ length: count }, (_, i) => ({
    id: `clip${String(i).padStart(3, '0')}`,
    split: i < Math.round(count * (1 - valFraction)) ? 'Train' : 'Val',
    portrait: i % 2 === 0 ? 'grace_hopper' : 'astronaut',
    roll: Number((rnd() * 0.6 - 0.3).toFixed(3)),
    pitch: Math.round(200 + rnd() * 1400),
    loudness: Number(rnd().toFixed(3)),
    noise: rnd() < 0.35,
  }));
}

export async function renderClip(c: SyntheticClipSpec, path: string, seconds: number): Promise<void> {
  const gainDb = (-30 + 30 * c.loudness).toFixed(1);
  const audio = c.noise
    ? `anoisesrc=color=pink:amplitude=0.5:sample_rate=16000:duration=${seconds}:seed=7`
    : `sine=frequency=${c.pitch}:sample_rate=16000:duration=${seconds}`;
  await promisify(execFile)(
    'ffmpeg',
    [
      ...['-v', 'error', '-nostdin', '-y', '-loop', '1', '-framerate', '10', '-i', portraitPath(c.portrait)],
      ...['-f', 'lavfi', '-i', audio],
      '-filter_complex',
      `[0:v]scale=300:300,rotate=${c.roll}:c=black:ow=rotw(${c.roll}):oh=roth(${c.roll}),` +
        `pad=640:480:(ow-iw)/2:(oh-ih)/2,format=yuv420p[v];[1:a]volume=${gainDb}dB[a]`,
      ...['-map', '[v]', '-map', '[a]', '-t', String(seconds), '-r', '10'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', path],
    ],
    { timeout: 60_000 },
  );
}

/**
 * Writes `<dir>/data_info.csv` and `<dir>/videos/<id>.mp4`; with `broken`, also a clip of random bytes
 * and a row whose video does not exist, which extraction must report and step over.
 */
export async function makeSyntheticDataset(
  dir: string,
  options: { count: number; seconds: number; seed?: number; broken?: boolean },
): Promise<SyntheticClipSpec[]> {
  const specs = syntheticSpecs(options.count, options.seed);
  await mkdir(join(dir, 'videos'), { recursive: true });
  const rows = specs.map((s) => [s.id, s.split, ...labelsOf(s)].join(','));
  if (options.broken) {
    await writeFile(
      join(dir, 'videos', 'broken.mp4'),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 251)),
    );
    rows.push(['broken', 'Train', ...EMOTIONS.map(() => 0.5)].join(','));
    rows.push(['absent', 'Train', ...EMOTIONS.map(() => 0.5)].join(','));
  }
  await writeFile(
    join(dir, 'data_info.csv'),
    `${['File_ID', 'Split', ...EMOTIONS].join(',')}\n${rows.join('\n')}\n`,
  );
  // Two at a time: ffmpeg's x264 is quick, and the machine has two cores.
  for (let i = 0; i < specs.length; i += 2) {
    await Promise.all(
      specs.slice(i, i + 2).map((s) => renderClip(s, join(dir, 'videos', `${s.id}.mp4`), options.seconds)),
    );
  }
  return specs;
}
