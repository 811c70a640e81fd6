import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Synthetic media made with ffmpeg (a test pattern and a tone or a given audio file), for benchmarks,
 * tests and demos that must not depend on real footage. H.264 + AAC, or PCM in a .wav.
 */

export interface SyntheticClipOptions {
  seconds: number;
  width?: number;
  height?: number;
  fps?: number;
  /** ffmpeg's lavfi pattern source. */
  pattern?: 'testsrc' | 'testsrc2';
  /** 'sine' (default), an audio file to use (cut to `seconds`), or false for no audio. */
  audio?: 'sine' | false | { file: string };
  /** false for an audio-only clip. */
  video?: boolean;
}

/** A given audio file is cut to the clip's length (`-t`); generated sources already have it. */
export async function synthesizeClip(path: string, o: SyntheticClipOptions): Promise<string> {
  const { seconds } = o;
  const video = o.video !== false;
  const audio = o.audio ?? 'sine';
  const inputs: string[] = [];
  if (video)
    inputs.push(
      '-f',
      'lavfi',
      '-i',
      `${o.pattern ?? 'testsrc'}=size=${o.width ?? 640}x${o.height ?? 480}:rate=${o.fps ?? 25}:duration=${seconds}`,
    );
  if (audio === 'sine')
    inputs.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`);
  else if (audio) inputs.push('-i', audio.file);
  const wav = path.endsWith('.wav');
  const codecs = [
    ...(video ? ['-c:v', 'libx264', '-pix_fmt', 'yuv420p'] : []),
    ...(audio ? ['-c:a', wav ? 'pcm_s16le' : 'aac'] : []),
  ];
  await promisify(execFile)(
    'ffmpeg',
    [
      '-v',
      'error',
      '-nostdin',
      '-y',
      ...inputs,
      ...(typeof audio === 'object' ? ['-t', String(seconds)] : []),
      ...codecs,
      path,
    ],
    { timeout: 120_000 },
  );
  return path;
}
