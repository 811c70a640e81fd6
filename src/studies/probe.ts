import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { EriError } from '../errors.js';

/** A video's duration in seconds (ffprobe), or ERI_ERR_MEDIA_DECODE when it is not a readable video. */
export async function probeDuration(path: string): Promise<number> {
  try {
    const { stdout } = await promisify(execFile)(
      'ffprobe',
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'format=duration', '-of', 'json', path],
      { timeout: 30_000 },
    );
    const d = Number((JSON.parse(stdout) as { format?: { duration?: string } }).format?.duration);
    if (!(d > 0)) throw new Error('no duration');
    return d;
  } catch (cause) {
    throw new EriError(
      'ERI_ERR_MEDIA_DECODE',
      `the stimulus is not a readable video: ${(cause as Error).message.split('\n')[0]}`,
      { cause },
    );
  }
}

/** One frame of a video at `seconds`, as a JPEG (for the study view's peak thumbnails). */
export async function thumbnail(path: string, seconds: number, width = 320): Promise<Buffer> {
  const { stdout } = await promisify(execFile)(
    'ffmpeg',
    [
      '-v',
      'error',
      '-nostdin',
      '-ss',
      String(seconds),
      '-i',
      path,
      '-frames:v',
      '1',
      '-vf',
      `scale=${width}:-2`,
      '-f',
      'image2',
      '-c:v',
      'mjpeg',
      'pipe:1',
    ],
    { encoding: 'buffer', timeout: 30_000, maxBuffer: 8 * 1024 * 1024 },
  );
  if (stdout.length === 0) throw new EriError('ERI_ERR_NOT_FOUND', `no frame at ${seconds} s`);
  return stdout;
}
