import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as mediasoup from 'mediasoup';
import type { Router, RouterRtpCodecCapability, Worker } from 'mediasoup/types';
import { EriError } from '../errors.js';
import { eriCacheRoot } from '../util/cache-dir.js';

/**
 * mediasoup workers (one per core by default) and a router per room. A worker that dies takes its
 * routers with it: its rooms are closed (their sessions end with a reason) and a replacement worker is
 * started, so publishers can rejoin at once.
 */

export const MEDIA_CODECS: RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

/** Where setup put the offline-built worker: $MEDIASOUP_WORKER_BIN, else the cache keyed by version. */
export function mediasoupWorkerBin(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MEDIASOUP_WORKER_BIN) return env.MEDIASOUP_WORKER_BIN;
  const version = mediasoup.version;
  return join(eriCacheRoot(env), 'mediasoup-worker', version, 'mediasoup-worker');
}

export interface MediaWorkerOptions {
  workers: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  logLevel?: 'debug' | 'warn' | 'error' | 'none';
  workerBin?: string;
}

export interface WorkerDeath {
  pid: number;
  error: Error;
}

export class MediaWorkerPool {
  readonly #options: MediaWorkerOptions;
  readonly #workers: Worker[] = [];
  readonly #routers = new Map<Worker, Set<Router>>();
  readonly #onDeath: (death: WorkerDeath) => void;
  #next = 0;
  #closed = false;

  private constructor(options: MediaWorkerOptions, onDeath: (death: WorkerDeath) => void) {
    this.#options = options;
    this.#onDeath = onDeath;
  }

  static async create(
    options: MediaWorkerOptions,
    onDeath: (death: WorkerDeath) => void,
  ): Promise<MediaWorkerPool> {
    const bin = options.workerBin ?? mediasoupWorkerBin();
    if (!existsSync(bin)) {
      throw new EriError(
        'ERI_ERR_MEDIA_WORKER',
        `no mediasoup worker at ${bin}: run scripts/setup.sh (it builds the worker offline)`,
      );
    }
    const pool = new MediaWorkerPool({ ...options, workerBin: bin }, onDeath);
    for (let i = 0; i < options.workers; i++) await pool.#spawn();
    return pool;
  }

  get workers(): readonly Worker[] {
    return this.#workers;
  }

  async #spawn(): Promise<Worker> {
    const o = this.#options;
    const worker = await mediasoup.createWorker({
      logLevel: o.logLevel ?? 'warn',
      rtcMinPort: o.rtcMinPort,
      rtcMaxPort: o.rtcMaxPort,
      ...(o.workerBin ? { workerBin: o.workerBin } : {}),
    });
    this.#workers.push(worker);
    this.#routers.set(worker, new Set());
    worker.on('died', (error) => {
      // mediasoup closes the worker's routers before 'died': rooms learn of it from their router.
      this.#routers.delete(worker);
      this.#workers.splice(this.#workers.indexOf(worker), 1);
      this.#onDeath({ pid: worker.pid, error });
      if (!this.#closed) this.#spawn().catch(() => {});
    });
    return worker;
  }

  /** A router on the next worker, round robin. */
  async createRouter(): Promise<Router> {
    if (this.#closed) throw new EriError('ERI_ERR_CLOSED', 'the media worker pool is closed');
    const worker = this.#workers[this.#next++ % Math.max(1, this.#workers.length)];
    if (!worker) throw new EriError('ERI_ERR_MEDIA_WORKER', 'no media worker is running');
    const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const set = this.#routers.get(worker);
    set?.add(router);
    router.observer.on('close', () => set?.delete(router));
    return router;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#workers) w.close();
    this.#workers.length = 0;
  }
}
