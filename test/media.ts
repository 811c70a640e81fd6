import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { portraitPath } from '../src/dataset/portraits.js';
import { synthesizeClip } from '../src/features/synthetic-clip.js';
import { SHARED_DIR } from './helpers.js';

/** Synthetic media made with ffmpeg and espeak-ng for tests that must not depend on ../shared. */

const run = promisify(execFile);

export async function ffmpeg(...args: string[]): Promise<void> {
  await run('ffmpeg', ['-v', 'error', '-nostdin', '-y', ...args], { timeout: 60_000 });
}

/** testsrc video (+ optional sine audio) of `duration` seconds at `fps`, 320x240. */
export async function syntheticClip(
  dir: string,
  name: string,
  o: { fps: number; duration: number; audio?: boolean; video?: boolean },
): Promise<string> {
  return synthesizeClip(join(dir, name), {
    seconds: o.duration,
    fps: o.fps,
    width: 320,
    height: 240,
    ...(o.audio === false ? { audio: false as const } : {}),
    ...(o.video === false ? { video: false } : {}),
  });
}

/** Black video and silence, with a white flash and a 1 kHz beep both at [at, at + 0.1) s, for each `at`. */
export async function flashAndBeep(
  dir: string,
  at: number | readonly number[],
  duration = 3,
  fps = 25,
): Promise<string> {
  const path = join(dir, 'flash-beep.mkv');
  const during = (typeof at === 'number' ? [at] : at).map((a) => `between(t,${a},${a + 0.099})`).join('+');
  await ffmpeg(
    ...['-f', 'lavfi', '-i', `color=c=black:size=320x240:rate=${fps}:duration=${duration}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=1000:sample_rate=48000:duration=${duration}`],
    ...['-vf', `drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='${during}'`],
    ...['-af', `volume=0:enable='not(${during})'`],
    ...['-c:v', 'ffv1', '-c:a', 'pcm_s16le', path],
  );
  return path;
}

/** Speech from espeak-ng (a WAV), optionally padded with silence. */
export async function speech(dir: string, text: string): Promise<string> {
  const path = join(dir, 'speech.wav');
  await run('espeak-ng', ['-w', path, text], { timeout: 30_000 });
  return path;
}

/** The real test media of ../shared/testmedia, or a skip reason. */
export function testMedia(relative: string): { path: string; skip: string | false } {
  const path = join(SHARED_DIR, 'testmedia', relative);
  return {
    path,
    skip: existsSync(path)
      ? false
      : `test media not found: ${path} (clone beside ../shared or set ERI_SHARED_DIR)`,
  };
}

/** A real picture (the public-domain portrait when setup fetched it, else ffmpeg's test card) as RGB bytes. */
export async function portraitRgb(size: number): Promise<Uint8Array> {
  const portrait = portraitPath('grace_hopper');
  const input = existsSync(portrait) ? ['-i', portrait] : ['-f', 'lavfi', '-i', 'testsrc=size=512x512'];
  const { stdout } = await run(
    'ffmpeg',
    [
      '-v',
      'error',
      ...input,
      '-frames:v',
      '1',
      '-vf',
      `scale=${size}:${size}`,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ],
    { encoding: 'buffer', maxBuffer: 64 << 20 },
  );
  return new Uint8Array(stdout);
}
