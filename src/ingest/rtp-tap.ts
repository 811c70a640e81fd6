import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Readable } from 'node:stream';
import type { Consumer, PlainTransport, Producer, Router } from 'mediasoup/types';
import { Subject } from 'rxjs';
import type { AudioChunk, VideoFrame } from '../../streams/align-media.js';
import { AUDIO_SAMPLE_RATE } from '../contracts/media-step.js';
import { ANALYSIS_AUDIO_FILTER, analysisVideoFilter, RecordReader } from '../features/decode.js';
import type { FrameBuffers } from '../features/frame-buffers.js';
import { consumerSdp, type SdpMedia } from './sdp.js';

/**
 * The server-side tap of one publisher: its producers are consumed on PlainTransports and decoded by one
 * ffmpeg process from an SDP (one process for audio and video, so ffmpeg keeps them in sync), straight to
 * the analysis size and rate. Output goes into `frames$` and `audio$` with media timestamps.
 *
 * Consumers start paused and are resumed once ffmpeg listens, with a keyframe request, at start and at
 * every decoder restart. A decoder that dies is restarted with backoff; its media timeline continues at
 * the wall-clock time of the restart (the gap costs coverage, not alignment). A producer that pauses just
 * stops the flow; the pipeline's alignment turns that into steps without that modality.
 */

export interface RtpTapOptions {
  router: Router;
  rateHz: number;
  frameSize: { width: number; height: number };
  /** Where the frames' buffers come from (the feature pool's, which its workers send back). */
  frameBuffers?: FrameBuffers;
  /** performance.now() at the session's start: media time 0. */
  startedAt: number;
  ffmpegPath?: string;
  /** ms ffmpeg gets to open its sockets before the consumers resume. */
  listenDelayMs?: number;
  onLog?: (line: string) => void;
}

export interface TapStats {
  decoderStarts: number;
  decoderExits: number;
  frames: number;
  audioSamples: number;
}

const BACKOFF_MS = [250, 500, 1000, 2000, 3000];

/** An even UDP port whose successor is free too (ffmpeg receives RTCP on port + 1). */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 5000);
    const ok = await Promise.all([port, port + 1].map((p) => canBind(p))).then((r) => r.every(Boolean));
    if (ok) return port;
  }
  throw new Error('no free UDP port pair for the decoder');
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

interface Decoder {
  process: ChildProcess;
  transports: PlainTransport[];
  consumers: Consumer[];
  stopped: boolean;
}

export class RtpTap {
  readonly frames$ = new Subject<VideoFrame>();
  readonly audio$ = new Subject<AudioChunk>();
  readonly stats: TapStats = { decoderStarts: 0, decoderExits: 0, frames: 0, audioSamples: 0 };
  readonly #o: RtpTapOptions;
  #producers: Producer[] = [];
  #decoder: Decoder | undefined;
  #restart: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;
  #generation = 0;

  constructor(options: RtpTapOptions) {
    this.#o = options;
  }

  /** The current ffmpeg's pid (for fault-injection tests and diagnostics). */
  get decoderPid(): number | undefined {
    return this.#decoder?.process.pid;
  }

  /** (Re)starts the decoder for this set of producers. */
  async setProducers(producers: Producer[]): Promise<void> {
    this.#producers = producers.filter((p) => !p.closed);
    this.#failures = 0;
    await this.#start();
  }

  async #start(): Promise<void> {
    if (this.#closed) return;
    const generation = ++this.#generation;
    this.#stopDecoder();
    if (this.#producers.length === 0) return;
    const o = this.#o;
    const transports: PlainTransport[] = [];
    const consumers: Consumer[] = [];
    const media: SdpMedia[] = [];
    try {
      for (const producer of this.#producers) {
        const port = await freePortPair();
        const transport = await o.router.createPlainTransport({
          listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
          rtcpMux: false,
          comedia: false,
        });
        transports.push(transport);
        await transport.connect({ ip: '127.0.0.1', port, rtcpPort: port + 1 });
        const consumer = await transport.consume({
          producerId: producer.id,
          rtpCapabilities: o.router.rtpCapabilities,
          paused: true,
        });
        consumers.push(consumer);
        media.push({ kind: producer.kind, port, rtpParameters: consumer.rtpParameters });
      }
    } catch (error) {
      for (const t of transports) t.close();
      if (generation === this.#generation)
        this.#scheduleRestart(`tap setup failed: ${(error as Error).message}`);
      return;
    }
    if (generation !== this.#generation || this.#closed) {
      for (const t of transports) t.close();
      return;
    }
    const hasVideo = media.some((m) => m.kind === 'video');
    const hasAudio = media.some((m) => m.kind === 'audio');
    const args = [
      ...['-hide_banner', '-nostdin', '-v', 'error'],
      // A tiny probe: the SDP already says what the streams are (cuts resume-to-first-frame ~1.4 s -> ~0.4 s).
      ...[
        '-protocol_whitelist',
        'pipe,udp,rtp',
        '-probesize',
        '32',
        '-analyzeduration',
        '0',
        '-fflags',
        '+nobuffer+genpts',
        // One decoding thread: frame threading holds a frame per extra thread (~100 ms more capture ->
        // features measured with 2 cores); analysis-size streams decode cheaply on one thread.
        ...['-threads', '1', '-flags', 'low_delay'],
        '-f',
        'sdp',
        '-i',
        'pipe:0',
      ],
      ...(hasVideo
        ? [
            '-map',
            '0:v:0',
            '-vf',
            analysisVideoFilter(o.rateHz, o.frameSize.width, o.frameSize.height, 'shown'),
            '-f',
            'rawvideo',
            'pipe:1',
          ]
        : []),
      ...(hasAudio
        ? [
            '-map',
            '0:a:0',
            '-af',
            ANALYSIS_AUDIO_FILTER,
            '-ac',
            '1',
            '-ar',
            String(AUDIO_SAMPLE_RATE),
            '-f',
            'f32le',
            'pipe:3',
          ]
        : []),
    ];
    const child = spawn(o.ffmpegPath ?? 'ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    const decoder: Decoder = { process: child, transports, consumers, stopped: false };
    this.#decoder = decoder;
    this.stats.decoderStarts++;
    child.stdin?.on('error', () => {});
    child.stdin?.end(consumerSdp(media));
    const stderr = child.stdio[2] as Readable;
    stderr.setEncoding('utf8');
    stderr.on('data', (line: string) => o.onLog?.(line.trim()));
    child.on('error', (error) => o.onLog?.(`ffmpeg: ${error.message}`));
    child.on('close', (code, signal) => {
      this.stats.decoderExits++;
      for (const t of decoder.transports) t.close();
      if (!decoder.stopped && !this.#closed && this.#decoder === decoder) {
        this.#decoder = undefined;
        this.#scheduleRestart(`decoder exited (${code ?? signal})`);
      }
    });

    // Media time of this decoder's output starts when its consumers resume.
    await new Promise((r) => setTimeout(r, o.listenDelayMs ?? 300));
    if (decoder.stopped || this.#closed) return;
    // Rounded up to a step boundary: each frame then sits at the very start of its step and each audio
    // record spans exactly one step, so a step is complete the moment its own frame and audio arrive
    // instead of when the next frame does (~100 ms sooner). Media time moves by under one step.
    const offset = Math.ceil(((performance.now() - o.startedAt) / 1000) * o.rateHz) / o.rateHz;
    const frameBytes = o.frameSize.width * o.frameSize.height * 3;
    let frames = 0;
    let samples = 0;
    const videoReader = new RecordReader(frameBytes, o.frameBuffers);
    (child.stdio[1] as Readable).on('data', (chunk: Buffer) =>
      videoReader.push(chunk, (rgb) => {
        this.stats.frames++;
        this.frames$.next({ t: offset + frames++ / o.rateHz, rgb });
      }),
    );
    const audioRecord = Math.round(AUDIO_SAMPLE_RATE / o.rateHz) * 4;
    const audio = new RecordReader(audioRecord);
    (child.stdio[3] as Readable).on('data', (chunk: Buffer) =>
      audio.push(chunk, (bytes) => {
        const chunkSamples = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
        this.stats.audioSamples += chunkSamples.length;
        this.audio$.next({ t: offset + samples / AUDIO_SAMPLE_RATE, samples: chunkSamples });
        samples += chunkSamples.length;
      }),
    );
    for (const consumer of consumers) await consumer.resume().catch(() => {});
    // Ask for a keyframe every second until the decoder produces its first frame.
    const video = consumers.find((c) => c.kind === 'video');
    const ask = async () => {
      while (video && !decoder.stopped && !this.#closed && frames === 0) {
        await video.requestKeyFrame().catch(() => {});
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    ask().catch(() => {});
    this.#failures = 0;
  }

  #scheduleRestart(why: string): void {
    if (this.#closed || this.#restart) return;
    const delay = BACKOFF_MS[Math.min(this.#failures, BACKOFF_MS.length - 1)] as number;
    this.#failures++;
    this.#o.onLog?.(`${why}; restarting the decoder in ${delay} ms`);
    this.#restart = setTimeout(() => {
      this.#restart = undefined;
      this.#start().catch((e: Error) => this.#o.onLog?.(`decoder restart failed: ${e.message}`));
    }, delay);
  }

  #stopDecoder(): void {
    const d = this.#decoder;
    this.#decoder = undefined;
    if (!d) return;
    d.stopped = true;
    for (const t of d.transports) t.close();
    // An ffmpeg blocked on UDP input may ignore SIGTERM.
    d.process.kill('SIGKILL');
  }

  /** Stops decoding and completes frames$ and audio$. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#restart) clearTimeout(this.#restart);
    this.#stopDecoder();
    this.frames$.complete();
    this.audio$.complete();
  }
}
