import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { EriError } from '../errors.js';
import { probeStreams } from '../features/decode.js';

/** A video's duration in seconds, or ERI_ERR_MEDIA_DECODE when it is not a readable video with one. */
export async function probeDuration(path: string): Promise<number> {
  const { presence } = await probeStreams(path);
  if (!presence.video) throw new EriError('ERI_ERR_MEDIA_DECODE', 'the stimulus has no video stream');
  if (!presence.durationS) throw new EriError('ERI_ERR_MEDIA_DECODE', 'the stimulus has no known duration');
  return presence.durationS;
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
