import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { EriError } from '../errors.js';
import { analysisVideoFilter, RecordReader } from '../features/decode.js';
import type { FrameBuffers } from '../features/frame-buffers.js';

/**
 * One ingest session's JPEG decoder: an ffmpeg reading an MJPEG stream on stdin and writing
 * analysis-size RGB, in order, so each decoded frame takes the time of the JPEG it came from.
 *
 * An ffmpeg that exits on its own (killed, crashed) loses the frames queued in it; the owner is told and
 * a new one takes the next frames. More than RESTARTS_PER_MINUTE exits in a minute means something is
 * wrong with this machine, not one frame: the owner is told to give up instead.
 */

const RESTARTS_PER_MINUTE = 3;

export interface JpegDecoderEvents {
  frame(t: number, rgb: Uint8Array): void;
  /** A frame failed to decode, or the decoder was restarted after an exit (with the frames it lost). */
  error(error: EriError): void;
  /** The decoder keeps exiting: the session should end with this error. */
  failed(error: EriError): void;
}

export class JpegFrameDecoder {
  readonly #size: { width: number; height: number };
  readonly #events: JpegDecoderEvents;
  readonly #pendingTimes: number[] = [];
  /** When the decoder was (re)started within the last minute, oldest first: restarts are bounded. */
  readonly #starts: number[] = [];
  readonly #buffers: FrameBuffers | undefined;
  #child: ChildProcess | undefined;
  #stopped = false;

  /** `buffers`: where the frames' buffers come from (the feature pool's, which its workers send back). */
  constructor(size: { width: number; height: number }, events: JpegDecoderEvents, buffers?: FrameBuffers) {
    this.#size = size;
    this.#events = events;
    this.#buffers = buffers;
    this.#start();
  }

  /** Frames written and not decoded yet. */
  get pending(): number {
    return this.#pendingTimes.length;
  }

  write(t: number, jpeg: Uint8Array): void {
    this.#pendingTimes.push(t);
    this.#child?.stdin?.write(jpeg);
  }

  stop(): void {
    this.#stopped = true;
    const child = this.#child;
    this.#child = undefined;
    child?.stdin?.end();
    child?.kill('SIGKILL');
  }

  #start(): void {
    const { width, height } = this.#size;
    const child = spawn(
      'ffmpeg',
      [
        ...['-hide_banner', '-nostdin', '-v', 'error', '-f', 'mjpeg', '-i', 'pipe:0'],
        ...['-vf', analysisVideoFilter(undefined, width, height), '-fps_mode', 'passthrough'],
        ...['-f', 'rawvideo', 'pipe:1'],
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.#child = child;
    this.#starts.push(Date.now());
    child.stdin?.on('error', () => {});
    child.on('error', () => {}); // followed by 'close', handled there
    child.on('close', () => this.#gone(child));
    const reader = new RecordReader(width * height * 3, this.#buffers);
    (child.stdout as Readable).on('data', (chunk: Buffer) =>
      reader.push(chunk, (rgb) => {
        const t = this.#pendingTimes.shift();
        if (t !== undefined) this.#events.frame(t, rgb);
      }),
    );
    child.stderr?.setEncoding('utf8').on('data', (line: string) => {
      // A JPEG ffmpeg could not decode yields no frame: resynchronise timestamps from the next one.
      this.#pendingTimes.length = 0;
      this.#events.error(
        new EriError(
          'ERI_ERR_MALFORMED_MESSAGE',
          `a frame could not be decoded: ${line.trim().slice(0, 200)}`,
        ),
      );
    });
  }

  #gone(child: ChildProcess): void {
    if (this.#child !== child || this.#stopped) return;
    this.#child = undefined;
    const lost = this.#pendingTimes.length;
    this.#pendingTimes.length = 0;
    const minuteAgo = Date.now() - 60_000;
    while ((this.#starts[0] ?? minuteAgo) < minuteAgo) this.#starts.shift();
    if (this.#starts.length > RESTARTS_PER_MINUTE) {
      this.#stopped = true;
      this.#events.failed(
        new EriError('ERI_ERR_MEDIA_WORKER', 'the frame decoder keeps exiting; the session ends'),
      );
      return;
    }
    this.#events.error(
      new EriError(
        'ERI_ERR_MEDIA_WORKER',
        `the frame decoder exited and was restarted; ${lost} frame${lost === 1 ? '' : 's'} lost`,
      ),
    );
    this.#start();
  }
}
