import { type ChildProcess, spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { AUDIO_SAMPLE_RATE, type MediaStep } from '../contracts/media-step.js';
import { EriError } from '../errors.js';
import type { FrameBuffers } from './frame-buffers.js';

/**
 * Media decoding with ffmpeg as a child process: any container or codec ffmpeg reads becomes analysis
 * steps at a fixed rate. Each step carries one RGB frame (letterboxed to the analysis size, so the size
 * is known before the first byte and no probe is needed, which also makes stdin work) and the step's
 * 16 kHz mono samples. Everything streams: at most `maxBufferedSteps` steps are held, whatever the
 * media's length.
 *
 * Timeline: step k covers media time [k / rate, (k + 1) / rate). ffmpeg's fps filter (start_time 0)
 * picks the frame shown at k / rate; `aresample=async=1:first_pts=0` pads or trims audio so sample 0
 * is media time 0, keeping audio and video aligned when their streams start at different times.
 * The clip has ceil(duration x rate) steps, duration being the longer stream's as decoded (AAC priming
 * included); a step past the end of
 * one stream has no frame, or zero-padded audio with its coverage saying how much is real.
 */

export interface DecodeOptions {
  /** Analysis steps per second. */
  rateHz: number;
  /** Frames are scaled to fit and letterboxed into width x height. */
  width: number;
  height: number;
  /** Steps decoded ahead of the consumer before ffmpeg is paused. */
  maxBufferedSteps?: number;
  /** Where the frames' buffers come from (a feature pool's, which its workers send back). */
  frameBuffers?: FrameBuffers;
  ffmpegPath?: string;
  ffprobePath?: string;
}

export interface DecodeSummary {
  steps: number;
  videoFrames: number;
  audioSamples: number;
  hasVideo: boolean;
  hasAudio: boolean;
}

export type MediaInput = string | { stream: Readable; name?: string };

function inputName(input: MediaInput): string {
  return typeof input === 'string' ? input : (input.name ?? 'stdin');
}

export interface StreamPresence {
  video: boolean;
  audio: boolean;
  /** Container duration in seconds, when the probe could tell. */
  durationS?: number;
}

/** Bytes of a piped input held to probe it: enough for any streamable container's headers. */
const PROBE_PREFIX_BYTES = 4 * 1024 * 1024;

function runProbe(
  ffprobe: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(ffprobe, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (t: string) => {
      out += t;
    });
    child.stderr?.setEncoding('utf8').on('data', (t: string) => {
      err = (err + t).slice(-2000);
    });
    child.on('error', (e) => resolve({ code: -1, out, err: e.message }));
    child.on('close', (code) => resolve({ code, out, err }));
    if (stdin && child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(stdin);
    }
  });
}

/**
 * The last lines ffmpeg logged, without the context pointers it prints (`[mov,mp4 @ 0x55d…]`), so the
 * same bad file gives the same message on every run.
 */
function ffmpegLog(text: string, lines: number): string {
  return text
    .trim()
    .split('\n')
    .slice(-lines)
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/g, ']'))
    .join(' | ');
}

/**
 * Which streams the input has, so ffmpeg is only asked for outputs it can produce. A piped input is
 * probed from its first bytes, which are then replayed to the decoder (nothing touches the disk).
 */
export async function probeStreams(
  input: MediaInput,
  ffprobe = 'ffprobe',
): Promise<{ presence: StreamPresence; input: MediaInput }> {
  const args = ['-v', 'error', '-show_entries', 'stream=codec_type:format=duration', '-of', 'json'];
  let replay: MediaInput = input;
  let result: Awaited<ReturnType<typeof runProbe>>;
  if (typeof input === 'string') {
    result = await runProbe(ffprobe, [...args, input]);
  } else {
    const prefix = await readPrefix(input.stream, PROBE_PREFIX_BYTES);
    result = await runProbe(ffprobe, [...args, 'pipe:0'], prefix);
    replay = { stream: Readable.from(prefixThenRest(prefix, input.stream)), name: inputName(input) };
  }
  if (result.code !== 0) {
    const why = ffmpegLog(result.err, 2) || `ffprobe exited with ${result.code}`;
    throw new EriError('ERI_ERR_MEDIA_DECODE', `${inputName(input)}: cannot read media: ${why}`);
  }
  const parsed = JSON.parse(result.out || '{}') as {
    streams?: { codec_type?: string }[];
    format?: { duration?: string };
  };
  const streams = parsed.streams ?? [];
  const duration = Number(parsed.format?.duration);
  const presence: StreamPresence = {
    video: streams.some((s) => s.codec_type === 'video'),
    audio: streams.some((s) => s.codec_type === 'audio'),
    ...(Number.isFinite(duration) && duration > 0 ? { durationS: duration } : {}),
  };
  if (!presence.video && !presence.audio) {
    throw new EriError('ERI_ERR_MEDIA_DECODE', `${inputName(input)}: no video or audio stream to analyse`);
  }
  return { presence, input: replay };
}

async function readPrefix(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  // destroyOnReturn false: the rest of the stream is still read afterwards, by the decoder.
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= max) break;
  }
  return Buffer.concat(chunks);
}

async function* prefixThenRest(prefix: Uint8Array, rest: Readable): AsyncGenerator<Uint8Array> {
  if (prefix.length > 0) yield prefix;
  for await (const chunk of rest) yield chunk as Uint8Array;
}

/**
 * Which source frame a step gets. `nearest`: the frame nearest the step's start, as a file is decoded
 * (ffmpeg's fps filter by default). `shown`: the frame on screen at the step's start (the last one at or
 * before it), which a live decoder can emit as soon as the next frame arrives, instead of waiting for a
 * frame past the middle of the interval (~50-70 ms less capture -> features at 30 fps, measured).
 */
export type StepFrameChoice = 'nearest' | 'shown';

/** ffmpeg video filter: one frame per step, scaled to fit and letterboxed into w x h, RGB24. */
export function analysisVideoFilter(
  rateHz: number | undefined,
  w: number,
  h: number,
  choice: StepFrameChoice = 'nearest',
): string {
  return [
    ...(rateHz ? [`fps=${rateHz}:start_time=0${choice === 'shown' ? ':round=up' : ''}`] : []),
    `scale=${w}:${h}:force_original_aspect_ratio=decrease:flags=bilinear`,
    `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2`,
    'format=rgb24',
  ].join(',');
}

/** ffmpeg audio filter: sample 0 at media time 0 (pads or trims), for `-ac 1 -ar 16000` output. */
export const ANALYSIS_AUDIO_FILTER = 'aresample=async=1:first_pts=0';

export function ffmpegArgs(input: MediaInput, o: DecodeOptions, presence: StreamPresence): string[] {
  const video = analysisVideoFilter(o.rateHz, o.width, o.height);
  return [
    ...['-hide_banner', '-nostdin', '-v', 'error', '-xerror'],
    ...['-i', typeof input === 'string' ? input : 'pipe:0'],
    ...(presence.video
      ? ['-map', '0:v:0', '-vf', video, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']
      : []),
    ...(presence.audio
      ? [
          '-map',
          '0:a:0',
          '-af',
          'aresample=async=1:first_pts=0',
          '-ac',
          '1',
          '-ar',
          String(AUDIO_SAMPLE_RATE),
        ]
      : []),
    ...(presence.audio ? ['-f', 'f32le', 'pipe:3'] : []),
  ];
}

/** Splits a byte stream into fixed-size records without concatenating buffers. */
export class RecordReader {
  readonly #size: number;
  readonly #buffers: Pick<FrameBuffers, 'acquire'>;
  #partial: Uint8Array;
  #filled = 0;

  /** `buffers`: where each record's buffer comes from (FrameBuffers recycles them; default: new ones). */
  constructor(size: number, buffers: Pick<FrameBuffers, 'acquire'> = { acquire: (n) => new Uint8Array(n) }) {
    this.#size = size;
    this.#buffers = buffers;
    this.#partial = buffers.acquire(size);
  }

  push(chunk: Buffer, emit: (record: Uint8Array) => void): void {
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(this.#size - this.#filled, chunk.length - at);
      this.#partial.set(chunk.subarray(at, at + take), this.#filled);
      this.#filled += take;
      at += take;
      if (this.#filled === this.#size) {
        emit(this.#partial);
        this.#partial = this.#buffers.acquire(this.#size);
        this.#filled = 0;
      }
    }
  }

  /** The incomplete last record, if any. */
  get remainder(): Uint8Array {
    return this.#partial.subarray(0, this.#filled);
  }
}

/**
 * Decodes `input` into steps. The generator owns the ffmpeg process: breaking out of the loop, or an
 * error, kills it. Resolves `summary` once the last step was produced.
 */
export interface DecodeCallbacks {
  /** Called once the input was probed, before the first step. */
  onProbe?: (presence: StreamPresence) => void;
  /** Called after the last step. */
  onSummary?: (summary: DecodeSummary) => void;
}

export async function* decodeMedia(
  input: MediaInput,
  options: DecodeOptions,
  callbacks: DecodeCallbacks = {},
): AsyncGenerator<MediaStep> {
  const samplesPerStep = Math.round(AUDIO_SAMPLE_RATE / options.rateHz);
  if (samplesPerStep * options.rateHz !== AUDIO_SAMPLE_RATE) {
    throw new EriError(
      'ERI_ERR_INVALID_ARGUMENT',
      `rate ${options.rateHz} Hz must divide ${AUDIO_SAMPLE_RATE} samples evenly`,
    );
  }
  const maxBuffered = options.maxBufferedSteps ?? 20;
  const frameBytes = options.width * options.height * 3;
  const probed = await probeStreams(input, options.ffprobePath);
  input = probed.input;
  callbacks.onProbe?.(probed.presence);
  const child: ChildProcess = spawn(
    options.ffmpegPath ?? 'ffmpeg',
    ffmpegArgs(input, options, probed.presence),
    {
      stdio: [typeof input === 'string' ? 'ignore' : 'pipe', 'pipe', 'pipe', 'pipe'],
    },
  );
  const videoOut = child.stdio[1] as Readable;
  const stderr = child.stdio[2] as Readable;
  const audioOut = child.stdio[3] as Readable;

  const frames: Uint8Array[] = [];
  const audio: Float32Array[] = [];
  let videoEnded = false;
  let audioEnded = false;
  let videoFrames = 0;
  let audioSamples = 0;
  let partialAudioLast = 0;
  let stderrTail = '';
  let spawnError: Error | undefined;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const videoReader = new RecordReader(frameBytes, options.frameBuffers);
  videoOut.on('data', (chunk: Buffer) =>
    videoReader.push(chunk, (f) => {
      frames.push(f);
      videoFrames++;
      notify();
    }),
  );
  videoOut.on('end', () => {
    videoEnded = true;
    notify();
  });
  const audioReader = new RecordReader(samplesPerStep * 4);
  audioOut.on('data', (chunk: Buffer) =>
    audioReader.push(chunk, (bytes) => {
      audio.push(new Float32Array(bytes.buffer, bytes.byteOffset, samplesPerStep));
      audioSamples += samplesPerStep;
      notify();
    }),
  );
  audioOut.on('end', () => {
    const rest = audioReader.remainder;
    const n = Math.floor(rest.length / 4);
    if (n > 0) {
      const last = new Float32Array(samplesPerStep);
      last.set(new Float32Array(rest.slice(0, n * 4).buffer));
      audio.push(last);
      audioSamples += n;
      partialAudioLast = n;
    }
    audioEnded = true;
    notify();
  });
  stderr.setEncoding('utf8');
  stderr.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-2000);
  });
  child.on('error', (error) => {
    spawnError = error;
    videoEnded = audioEnded = true;
    notify();
  });
  child.on('close', (code, signal) => {
    exit = { code, signal };
    notify();
  });
  // A closed stdin (ffmpeg stopped reading) is not an error of ours; its exit status says what happened.
  child.stdin?.on('error', () => {});
  if (typeof input !== 'string' && child.stdin) input.stream.pipe(child.stdin);

  const setPaused = (stream: Readable, pause: boolean) => {
    if (pause && !stream.isPaused()) stream.pause();
    else if (!pause && stream.isPaused()) stream.resume();
  };
  const flow = (waiting: boolean) => {
    // While the consumer waits, everything flows (ffmpeg may need to write one output to reach the other);
    // otherwise an output more than maxBuffered steps ahead is paused, which pauses ffmpeg.
    setPaused(videoOut, !waiting && frames.length > maxBuffered);
    setPaused(audioOut, !waiting && audio.length > maxBuffered);
  };
  const hardCap = maxBuffered * 10;

  let index = 0;
  let finished = false;
  try {
    for (;;) {
      const videoReady = frames.length > 0 || videoEnded;
      const audioReady = audio.length > 0 || audioEnded;
      if (frames.length > hardCap || audio.length > hardCap) {
        throw new EriError(
          'ERI_ERR_MEDIA_DECODE',
          `${inputName(input)}: audio and video are more than ${hardCap} steps apart in the stream; cannot align them in bounded memory`,
        );
      }
      if (!(videoReady && audioReady)) {
        flow(true);
        await new Promise<void>((r) => {
          wake = r;
        });
        continue;
      }
      if (frames.length === 0 && audio.length === 0) break; // both ended
      const frame = frames.shift();
      const samples = audio.shift();
      const isLastAudio = audioEnded && audio.length === 0 && samples !== undefined && partialAudioLast > 0;
      const coverage = samples === undefined ? 0 : isLastAudio ? partialAudioLast / samplesPerStep : 1;
      flow(false);
      yield {
        index,
        t: index / options.rateHz,
        ...(frame ? { frame } : {}),
        audio: samples ?? new Float32Array(samplesPerStep),
        audioCoverage: coverage,
      };
      index++;
    }
    if (!exit) {
      await new Promise<void>((r) => {
        if (exit) r();
        else child.once('close', () => r());
      });
    }
    if (spawnError) {
      throw new EriError(
        'ERI_ERR_MEDIA_DECODE',
        `cannot run ffmpeg: ${spawnError.message} (is it installed?)`,
        {
          cause: spawnError,
        },
      );
    }
    // ffmpeg runs at log level "error": anything it printed is an error it recovered from, e.g. a
    // truncated Matroska file ("File ended prematurely") that still exits 0. Treat it as a failure.
    if (exit?.code !== 0 || stderrTail.trim() !== '') {
      const why = ffmpegLog(stderrTail, 3) || `ffmpeg exited with ${exit?.code ?? exit?.signal}`;
      const hint =
        typeof input === 'string'
          ? ''
          : ' (a piped MP4 needs its index first: remux with -movflags +faststart, or pipe MKV, WebM or MPEG-TS)';
      throw new EriError('ERI_ERR_MEDIA_DECODE', `${inputName(input)}: cannot decode: ${why}${hint}`);
    }
    if (videoFrames === 0 && audioSamples === 0) {
      throw new EriError('ERI_ERR_MEDIA_DECODE', `${inputName(input)}: no video or audio stream to analyse`);
    }
    finished = true;
    callbacks.onSummary?.({
      steps: index,
      videoFrames,
      audioSamples,
      hasVideo: videoFrames > 0,
      hasAudio: audioSamples > 0,
    });
  } finally {
    if (!finished || !exit) {
      child.kill('SIGKILL');
    }
    videoOut.destroy();
    audioOut.destroy();
    stderr.destroy();
  }
}
