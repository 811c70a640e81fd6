import type { Producer, Transport } from 'mediasoup/types';
import type { WebSocket } from 'ws';
import type { FeatureSpec } from '../contracts/feature-spec.js';
import {
  type JoinResult,
  type PlainTransportResult,
  SIGNAL_METHODS,
  SIGNAL_PROTOCOL_VERSION,
  type SignalEnvelope,
  type SignalMethod,
  type SignalNotification,
  type SignalParams,
  type SignalResponse,
  signalEnvelopeSchema,
  signalParamsSchemas,
  type WebRtcTransportResult,
} from '../contracts/signalling.js';
import { sessionEndedData } from '../contracts/stream-protocol.js';
import { EriError, type ErrorCode, isEriError, zodIssueText } from '../errors.js';
import type { FrameBuffers } from '../features/frame-buffers.js';
import type { HistoryReader } from '../history/history-store.js';
import type { Room, RoomManager } from '../ingest/rooms.js';
import { RtpTap } from '../ingest/rtp-tap.js';
import type { SessionRegistry } from '../sessions/registry.js';
import type { Session } from '../sessions/session.js';
import type { Principal } from './auth.js';
import type { ServerConfig } from './config.js';
import type { Admission } from './limits.js';
import type { Log } from './logger.js';
import { PublisherSession } from './publisher-session.js';
import type { StudyDeps } from './study-routes.js';
import { WsChannel } from './ws-channel.js';

/**
 * One publisher's signalling connection (`/v1/signal`). Every inbound message is parsed and validated;
 * anything wrong gets a typed error response and changes nothing, so a fuzzer cannot crash it or touch
 * other sessions. The connection owns its transports, producers, tap and session: when it closes (or
 * answers no ping for `publisherTimeoutMs`), the session ends with reason client-gone.
 */

export interface SignallingDeps {
  rooms: RoomManager;
  registry: SessionRegistry;
  config: ServerConfig;
  rateHz: number;
  frameSize: { width: number; height: number };
  /** Where decoded frames' buffers come from: the feature pool's, which its workers send back. */
  frameBuffers?: FrameBuffers;
  model: JoinResult['model'];
  /** The model's feature spec: what edge publishers must compute. */
  featureSpec: FeatureSpec;
  log: Log;
  /** Who this connection is (its token's scopes). */
  principal: Principal;
  /** Reaction studies: their definitions and which sessions are viewers in which. */
  studies: StudyDeps;
  admission: Admission;
  /** History: a session id that has some is not started again. */
  history: Pick<HistoryReader, 'session'>;
  /** Every typed error sent to this client (counted in /metrics). */
  onError?: (code: ErrorCode) => void;
}

/**
 * Transports one connection may hold: a browser publisher needs one (WebRTC), `eri publish` two (plain
 * RTP, audio and video). Each costs a UDP and a TCP port of the node's range, shared by every publisher.
 */
export const MAX_TRANSPORTS_PER_CONNECTION = 4;

/** How long after a produce the tap waits for the publisher's other track before (re)starting. */
const PRODUCE_SETTLE_MS = 300;

type Handler = (params: never) => Promise<unknown>;

export class SignallingConnection {
  readonly #channel: WsChannel<SignalEnvelope>;
  readonly #deps: SignallingDeps;
  #startedAt = 0;
  readonly #transports = new Map<string, Transport>();
  readonly #producers = new Map<string, Producer>();
  #room: Room | undefined;
  readonly #publisher: PublisherSession;
  #tap: RtpTap | undefined;
  #detachRoom: (() => void) | undefined;
  #leaveRoom: (() => void) | undefined;
  #creatingTransports = 0;
  #tapTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(ws: WebSocket, deps: SignallingDeps) {
    this.#deps = deps;
    this.#publisher = new PublisherSession(deps, (event) => {
      if (event.type === 'estimate') this.#send({ notification: 'estimate', data: event.estimate });
      if (event.type === 'session.ended')
        this.#send({
          notification: 'session.ended',
          data: sessionEndedData(event),
        });
    });
    this.#channel = new WsChannel(ws, {
      maxMessageBytes: deps.config.maxMessageBytes,
      maxMessagesPerSecond: deps.config.maxMessagesPerSecond,
      heartbeatMs: Math.max(100, Math.floor(deps.config.publisherTimeoutMs / 2)),
      onDead: () =>
        deps.log(
          `signalling: publisher ${this.#publisher.session?.id ?? '(not joined)'} answered no ping for ${deps.config.publisherTimeoutMs} ms`,
          { level: 'warn', ...this.#where() },
        ),
      schema: signalEnvelopeSchema,
      invalid: (_json, error) =>
        new EriError('ERI_ERR_MALFORMED_MESSAGE', `invalid request: ${zodIssueText(error)}`),
      // mediasoup's complaints about the parameters it was handed are the client's to fix.
      faultCode: (error) =>
        error instanceof TypeError || error.name === 'UnsupportedError'
          ? 'ERI_ERR_MALFORMED_MESSAGE'
          : 'ERI_ERR_INVALID_STATE',
      errorMessage: (error, id): SignalResponse => ({ id: id ?? null, ok: false, error: error.toJSON() }),
      onMessage: (envelope) => this.#onRequest(envelope),
      onError: (error) => deps.onError?.(error.code),
      onClose: () => this.#close('client-gone'),
    });
  }

  /** The session and room a log record is about. */
  #where(): { sessionId?: string; roomId?: string } {
    const session = this.#publisher.session;
    return session ? { sessionId: session.id, roomId: session.roomId } : {};
  }

  get session(): Session | undefined {
    return this.#publisher.session;
  }

  /** The tap's decoder pid and counters (diagnostics, fault-injection tests). */
  get tap(): RtpTap | undefined {
    return this.#tap;
  }

  #send(message: SignalResponse | SignalNotification): void {
    this.#channel.send(message);
  }

  async #onRequest({ id, method, params }: SignalEnvelope): Promise<void> {
    if (!(SIGNAL_METHODS as readonly string[]).includes(method)) {
      throw new EriError(
        'ERI_ERR_UNKNOWN_METHOD',
        `unknown method '${method.slice(0, 64)}' (methods: ${SIGNAL_METHODS.join(', ')})`,
      );
    }
    const m = method as SignalMethod;
    const parsed = signalParamsSchemas[m].safeParse(params ?? {});
    if (!parsed.success)
      throw new EriError(
        'ERI_ERR_MALFORMED_MESSAGE',
        `${m}: ${zodIssueText(parsed.error).replace(/^\(root\)/, 'params')}`,
      );
    const handler = this.#handlers[m] as Handler;
    try {
      const result = await handler(parsed.data as never);
      this.#send({ id, ok: true, result: result ?? {} });
    } catch (error) {
      // The method's name in front of a library's message, so the client knows which step failed.
      if (!isEriError(error) && error instanceof Error) error.message = `${m}: ${error.message}`;
      throw error;
    }
  }

  #joined(): { room: Room; session: Session } {
    const session = this.#publisher.session;
    if (!this.#room || !session || session.state === 'ended') {
      throw new EriError('ERI_ERR_INVALID_STATE', 'join a room first');
    }
    return { room: this.#room, session };
  }

  /**
   * Claims a transport slot before the (awaited) creation, so requests sent together cannot all pass the
   * check; the returned function frees the claim once the transport exists (or failed).
   */
  #reserveTransport(): () => void {
    const open = [...this.#transports.values()].filter((t) => !t.closed).length;
    if (open + this.#creatingTransports >= MAX_TRANSPORTS_PER_CONNECTION) {
      throw new EriError(
        'ERI_ERR_LIMIT',
        `at most ${MAX_TRANSPORTS_PER_CONNECTION} transports per connection (each holds ports every publisher shares)`,
      );
    }
    this.#creatingTransports++;
    return () => {
      this.#creatingTransports--;
    };
  }

  #producer(id: string): Producer {
    this.#joined();
    const producer = this.#producers.get(id);
    if (!producer)
      throw new EriError('ERI_ERR_NOT_FOUND', `no producer ${id.slice(0, 64)} on this connection`);
    return producer;
  }

  #transport(id: string): Transport {
    const t = this.#transports.get(id);
    if (!t || t.closed)
      throw new EriError('ERI_ERR_NOT_FOUND', `no transport ${id.slice(0, 64)} on this connection`);
    return t;
  }

  /** The join: the publisher session, with this connection's room membership and RTP tap as its media. */
  async #join(p: SignalParams<'join'>): Promise<JoinResult> {
    const session = await this.#publisher.start(p, async (sessionId) => {
      const membership = await this.#deps.rooms.join(p.roomId);
      this.#startedAt = performance.now();
      const tap = new RtpTap({
        router: membership.room.router,
        rateHz: this.#deps.rateHz,
        frameSize: this.#deps.frameSize,
        ...(this.#deps.frameBuffers ? { frameBuffers: this.#deps.frameBuffers } : {}),
        startedAt: this.#startedAt,
        onLog: (line) => this.#deps.log(`tap: ${line}`, { sessionId, roomId: p.roomId }),
      });
      this.#room = membership.room;
      this.#leaveRoom = membership.leave;
      this.#tap = tap;
      return {
        input: { mode: 'server', frames$: tap.frames$, audio$: tap.audio$ },
        release: () => this.#releaseMedia(),
      };
    });
    const room = this.#room;
    if (!room) throw new EriError('ERI_ERR_INVALID_STATE', 'the join opened no room');
    this.#detachRoom = room.onClose((error) => {
      session.end('error', error ?? new EriError('ERI_ERR_MEDIA_WORKER', `room ${room.id} closed`));
      this.#releaseMedia();
    });
    const result: JoinResult = {
      sessionId: session.id,
      roomId: p.roomId,
      routerRtpCapabilities: room.router.rtpCapabilities,
      protocol: SIGNAL_PROTOCOL_VERSION,
      model: this.#deps.model,
    };
    return result;
  }

  readonly #handlers: { [M in SignalMethod]: (p: SignalParams<M>) => Promise<unknown> } = {
    // The publisher session claims the connection before anything is awaited: joins sent together
    // cannot both pass.
    join: (p) => this.#join(p),

    createWebRtcTransport: async () => {
      const { room } = this.#joined();
      const release = this.#reserveTransport();
      const rtc = this.#deps.config.rtc;
      const listen = (protocol: 'udp' | 'tcp') => ({
        protocol,
        ip: rtc.listenIp,
        ...(rtc.announcedAddress ? { announcedAddress: rtc.announcedAddress } : {}),
      });
      const transport = await room.router
        .createWebRtcTransport({
          listenInfos: [listen('udp'), listen('tcp')],
          enableUdp: true,
          enableTcp: true,
          preferUdp: true,
        })
        .finally(release);
      this.#transports.set(transport.id, transport);
      const result: WebRtcTransportResult = {
        id: transport.id,
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        dtlsParameters: transport.dtlsParameters,
      };
      return result;
    },

    connectWebRtcTransport: async (p) => {
      this.#joined();
      const transport = this.#transport(p.transportId);
      if (transport.type !== 'webrtc') throw new EriError('ERI_ERR_INVALID_STATE', 'not a WebRTC transport');
      await (transport as import('mediasoup/types').WebRtcTransport).connect({
        dtlsParameters: p.dtlsParameters as never,
      });
      return {};
    },

    createPlainTransport: async () => {
      const { room } = this.#joined();
      const release = this.#reserveTransport();
      const transport = await room.router
        .createPlainTransport({
          listenInfo: { protocol: 'udp', ip: this.#deps.config.rtc.listenIp },
          rtcpMux: false,
          comedia: true,
        })
        .finally(release);
      this.#transports.set(transport.id, transport);
      const result: PlainTransportResult = {
        id: transport.id,
        ip: transport.tuple.localAddress ?? transport.tuple.localIp,
        port: transport.tuple.localPort,
        rtcpPort: transport.rtcpTuple?.localPort ?? transport.tuple.localPort,
      };
      return result;
    },

    produce: async (p) => {
      this.#joined();
      if ([...this.#producers.values()].some((x) => !x.closed && x.kind === p.kind)) {
        throw new EriError('ERI_ERR_INVALID_STATE', `this publisher already produces ${p.kind}`);
      }
      const transport = this.#transport(p.transportId);
      const producer = await transport.produce({ kind: p.kind, rtpParameters: p.rtpParameters as never });
      this.#producers.set(producer.id, producer);
      producer.observer.on('close', () => {
        this.#producers.delete(producer.id);
        this.#scheduleTap();
      });
      this.#scheduleTap();
      return { producerId: producer.id };
    },

    pauseProducer: async (p) => {
      await this.#producer(p.producerId).pause();
      return {};
    },

    resumeProducer: async (p) => {
      await this.#producer(p.producerId).resume();
      return {};
    },

    stimulus: async (p) => {
      const { session } = this.#joined();
      if (!this.#deps.studies.tracker.studyOf(session.id))
        throw new EriError(
          'ERI_ERR_INVALID_STATE',
          'this session is not a viewer in a study: join with a studyId',
        );
      // The viewer's media time now, on the clock its frames are stamped with (see RtpTap).
      this.#deps.studies.tracker.mark(session.id, {
        event: p.event,
        position: p.position,
        mediaTime: (performance.now() - this.#startedAt) / 1000,
      });
      return {};
    },

    requestEstimate: async () => {
      this.#joined().session.requestEstimate();
      return {};
    },

    leave: async () => {
      const { session } = this.#joined();
      session.end('normal');
      return {};
    },
  };

  /** Waits briefly so audio and video produced together start one decoder, not two in a row. */
  #scheduleTap(): void {
    if (this.#tapTimer) clearTimeout(this.#tapTimer);
    this.#tapTimer = setTimeout(() => {
      this.#tapTimer = undefined;
      this.#tap
        ?.setProducers([...this.#producers.values()])
        .catch((e: Error) => this.#deps.log(`tap: ${e.message}`, { level: 'error', ...this.#where() }));
    }, PRODUCE_SETTLE_MS);
  }

  /** Stops the tap and closes transports; the session's own end carries on (final estimate). */
  #releaseMedia(): void {
    if (this.#tapTimer) clearTimeout(this.#tapTimer);
    this.#tap?.close();
    for (const t of this.#transports.values()) t.close();
    this.#transports.clear();
    this.#producers.clear();
    // Last: the room must not tell this publisher it closed because it left.
    this.#detachRoom?.();
    this.#detachRoom = undefined;
    this.#leaveRoom?.();
  }

  #close(reason: 'client-gone'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#publisher.close(reason);
    this.#releaseMedia();
    this.#detachRoom?.();
  }
}
