import { type Observable, Subject } from 'rxjs';
import { type EdgeAnalysis, type EdgeStepLayout, encodeEdgeStep } from '../../../src/contracts/edge-steps.js';
import type { FeatureStep } from '../../../src/contracts/feature-step.js';
import {
  INGEST_KIND,
  type IngestControl,
  type IngestServerMessage,
  ingestMessage,
  ingestServerMessageSchema,
  pcm16,
} from '../../../src/contracts/ingest-protocol.js';
import { refusalOf } from '../../../src/contracts/ws-close.js';
import { EriClientError } from './errors.js';
import {
  endpointUrl,
  resolveWebSocket,
  type TokenSource,
  textOf,
  tokenOf,
  type WebSocketConstructor,
  type WebSocketLike,
} from './socket.js';

/**
 * The client for the WebSocket frame ingest (`/v1/ingest`, docs/ingest.md), for publishers without
 * WebRTC: start a session, send JPEG frames and PCM audio with media timestamps (or, in edge mode,
 * feature steps the client computed itself), end it, and read the session's estimates as they come.
 * One connection carries one session.
 *
 * ```ts
 * const ingest = await IngestClient.connect('http://127.0.0.1:8080', { token });
 * ingest.messages$.subscribe((m) => m.type === 'estimate' && console.log(m.data.intensities));
 * ingest.start('lobby');
 * ingest.frame(0, jpegBytes); ingest.audio(0, float32Samples);
 * ingest.end();
 * ```
 */

export interface IngestClientOptions {
  /** A JWT with a publish scope, or a function returning one. */
  token?: TokenSource;
  WebSocket?: WebSocketConstructor;
}

export class IngestClient {
  readonly #ws: WebSocketLike;
  readonly #messages = new Subject<IngestServerMessage>();
  #layout: EdgeStepLayout | undefined;
  /** Resolves when the socket closes: with the refusal or the close as an error, or undefined for a normal end. */
  readonly closed: Promise<EriClientError | undefined>;

  private constructor(ws: WebSocketLike) {
    this.#ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (event) => this.#onText(textOf(event.data));
    let lastError: EriClientError | undefined;
    this.#messages.subscribe((m) => {
      if (m.type === 'error') lastError = new EriClientError(m.code as EriClientError['code'], m.message);
    });
    this.closed = new Promise((resolve) => {
      ws.onclose = (event) => {
        const refusal = refusalOf(event.code, event.reason);
        const error = refusal
          ? new EriClientError(refusal.code, lastError?.message ?? refusal.message, { closeCode: event.code })
          : event.code === 1000
            ? undefined
            : new EriClientError('ERI_ERR_CONNECTION', `connection closed (${event.code})`, {
                closeCode: event.code,
              });
        if (error) this.#messages.error(error);
        else this.#messages.complete();
        resolve(error);
      };
    });
  }

  /** Opens the connection; rejects with ERI_ERR_CONNECTION when the server cannot be reached. */
  static async connect(url: string, options: IngestClientOptions = {}): Promise<IngestClient> {
    const [Socket, token] = await Promise.all([resolveWebSocket(options.WebSocket), tokenOf(options.token)]);
    const target = endpointUrl(url, '/v1/ingest', token);
    return new Promise((resolve, reject) => {
      const ws = new Socket(target);
      ws.onopen = () => resolve(new IngestClient(ws));
      ws.onerror = () =>
        reject(new EriClientError('ERI_ERR_CONNECTION', `cannot connect to ${target.split('?')[0]}`));
    });
  }

  /**
   * What the server says, validated: `started`, this session's estimates, `session.ended`, errors. It
   * errors when the connection is refused (ERI_ERR_UNAUTHENTICATED, ERI_ERR_FORBIDDEN, ERI_ERR_LIMIT)
   * or lost, and completes on a normal close.
   */
  get messages$(): Observable<IngestServerMessage> {
    return this.#messages.asObservable();
  }

  /**
   * Starts the session. With `analysis` the client computes the features itself (edge mode) and sends
   * `features()` steps instead of frames and audio; the declared spec must be the server's model's
   * (GET /v1/model gives it).
   */
  start(
    roomId: string,
    options: { sessionId?: string; studyId?: string; analysis?: EdgeAnalysis } = {},
  ): void {
    this.#control({ type: 'start', roomId, ...options });
    this.#layout = options.analysis;
  }

  /** Edge mode: one feature step, at its media time `step.t` (index / rate). */
  features(step: FeatureStep): void {
    if (!this.#layout) throw new RangeError('features() needs a start with analysis (edge mode)');
    this.#ws.send(ingestMessage(INGEST_KIND.features, step.t, encodeEdgeStep(step, this.#layout)));
  }

  /** A JPEG frame at media time `t` (seconds from the session's start). */
  frame(t: number, jpeg: Uint8Array): void {
    this.#ws.send(ingestMessage(INGEST_KIND.jpeg, t, jpeg));
  }

  /** Mono 16 kHz samples in [-1, 1] starting at media time `t`. */
  audio(t: number, samples: Float32Array): void {
    this.#ws.send(ingestMessage(INGEST_KIND.pcm, t, pcm16(samples)));
  }

  /** A study viewer's stimulus event (docs/studies.md). */
  stimulus(
    event: Extract<IngestControl, { type: 'stimulus' }>['event'],
    position: number,
    mediaTime: number,
  ): void {
    this.#control({ type: 'stimulus', event, position, mediaTime });
  }

  /** Ends the session: the final estimate, then `session.ended`, follow. */
  end(): void {
    this.#control({ type: 'end' });
  }

  /** Anything at all, unvalidated: for testing a server's validation. */
  raw(data: string | Uint8Array): void {
    this.#ws.send(data);
  }

  close(): void {
    this.#ws.close(1000);
  }

  #control(message: IngestControl): void {
    this.#ws.send(JSON.stringify(message));
  }

  #onText(text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = ingestServerMessageSchema.safeParse(json);
    if (parsed.success) this.#messages.next(parsed.data);
    else
      this.#messages.error(
        new EriClientError(
          'ERI_ERR_MALFORMED_MESSAGE',
          `the server sent an invalid message: ${text.slice(0, 80)}`,
        ),
      );
  }
}
