import WebSocket from 'ws';
import { endpointUrl } from './endpoint-url.js';

/**
 * Node client for the WebSocket frame ingest (/v1/ingest): start a session, send JPEG frames and PCM
 * chunks with media timestamps, end it. Server messages (started, estimate, session.ended, error) go to
 * `onMessage`. Protocol: docs/ingest.md.
 */

export const INGEST_HEADER = 16;

export function ingestMessage(kind: 1 | 2, t: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(INGEST_HEADER + payload.length);
  out[0] = kind;
  out.writeDoubleLE(t, 8);
  out.set(payload, INGEST_HEADER);
  return out;
}

/** 16-bit little-endian PCM from samples in [-1, 1]. */
export function pcm16(samples: Float32Array): Uint8Array {
  const out = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => {
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(s * 32767))), 2 * i);
  });
  return out;
}

export class IngestClient {
  readonly #ws: WebSocket;
  onMessage: (message: Record<string, unknown>) => void = () => {};
  readonly closed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => this.onMessage(JSON.parse(String(data))));
    this.closed = new Promise((resolve) => ws.on('close', () => resolve()));
  }

  static connect(url: string, token?: string): Promise<IngestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(endpointUrl(url, '/v1/ingest', token));
      ws.once('open', () => resolve(new IngestClient(ws)));
      ws.once('error', reject);
    });
  }

  start(roomId: string, sessionId?: string): void {
    this.#ws.send(JSON.stringify({ type: 'start', roomId, ...(sessionId ? { sessionId } : {}) }));
  }

  frame(t: number, jpeg: Uint8Array): void {
    this.#ws.send(ingestMessage(1, t, jpeg));
  }

  audio(t: number, samples: Float32Array): void {
    this.#ws.send(ingestMessage(2, t, pcm16(samples)));
  }

  /** Anything, for tests of the server's validation. */
  raw(data: string | Buffer): void {
    this.#ws.send(data);
  }

  end(): void {
    this.#ws.send(JSON.stringify({ type: 'end' }));
  }

  close(): void {
    this.#ws.close();
  }
}
