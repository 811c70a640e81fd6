import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { availableParallelism, loadavg, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { InferenceBatcher } from '../../streams/inference-batcher.js';
import type { Bus } from '../bus/bus.js';
import { LocalBus } from '../bus/local-bus.js';
import { RedisBus } from '../bus/redis-bus.js';
import { ERI_FACE_AUDIO_SPEC, faceAudioSpec } from '../contracts/feature-spec.js';
import { DEFAULT_ANALYSIS_SIZE } from '../contracts/media-step.js';
import { placementResponse } from '../contracts/rest-api.js';
import { EriError, type ErrorCode, isEriError } from '../errors.js';
import { FeaturePool } from '../features/pool.js';
import { openLocalHistory } from '../history/open-history.js';
import { MediaWorkerPool } from '../ingest/media-workers.js';
import { RoomManager } from '../ingest/rooms.js';
import { EriModel } from '../model/model.js';
import { placePublisher } from '../sessions/placement.js';
import { type NodeLoad, RedisNodes } from '../sessions/redis-nodes.js';
import { SessionRegistry } from '../sessions/registry.js';
import { RoomAggregator } from '../sessions/room-aggregator.js';
import { FileStudyCatalog, RedisStudyCatalog } from '../studies/study-catalog.js';
import { StudyStore } from '../studies/study-store.js';
import { StudyTracker } from '../studies/study-tracker.js';
import { PACKAGE_VERSION } from '../util/package-version.js';
import { Authenticator, access, type Principal } from './auth.js';
import { type AddressOf, clientAddress } from './client-address.js';
import { nodeIdOf, type ServerConfig } from './config.js';
import { corsOptions } from './cors.js';
import { registerEdgeRoutes } from './edge-routes.js';
import { FrameIngestConnection } from './frame-ingest.js';
import { applyHttpConventions } from './http-conventions.js';
import { Admission } from './limits.js';
import { type Log, logTo, silentLogger } from './logger.js';
import { ServerMetrics } from './metrics.js';
import { modelInfo, registerModelRoutes } from './model-routes.js';
import { errorResponses, registerOpenApi } from './openapi.js';
import { registerOpsRoutes } from './ops-routes.js';
import { registerPageRoutes } from './page-routes.js';
import type { ReadinessCheck } from './readiness.js';
import { logRequests } from './request-log.js';
import { registerRestRoutes } from './rest.js';
import { SignallingConnection } from './signalling.js';
import { SubscriberConnection } from './stream.js';
import { registerStudyRoutes, type StudyDeps } from './study-routes.js';
import { type WsEndpoint, WsGateway } from './ws-gateway.js';

/**
 * The eri-stream server: HTTP (fastify) for pages and health, WebSockets (ws) for signalling and the
 * frame ingest, mediasoup for WebRTC, and one shared feature pool, model and batcher behind every
 * session. `EriServer.create()` starts everything or fails with a coded error; `close()` stops it all.
 */

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every /v1/ and /metrics request. */
    principal: Principal | null;
  }
}

/**
 * The URL others reach this node at when ERI_PUBLIC_URL is not set: listening on every interface
 * (0.0.0.0, ::) is not an address anyone can connect to, so viewer links and placement answers take this
 * machine's first external IPv4 address instead, and the log says to set ERI_PUBLIC_URL.
 */
function reachableUrl(host: string, port: number, log: Log): string {
  if (host !== '0.0.0.0' && host !== '::') return `http://${host}:${port}`;
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  const url = `http://${external ?? '127.0.0.1'}:${port}`;
  log(
    `ERI_PUBLIC_URL is not set: viewer links and placement answers use ${url}; set it to the URL clients reach`,
    { level: 'warn' },
  );
  return url;
}

export interface ServerHandle {
  url: string;
  close(): Promise<void>;
}

export class EriServer {
  readonly config: ServerConfig;
  readonly http: FastifyInstance;
  readonly registry: SessionRegistry;
  readonly media: MediaWorkerPool;
  readonly rooms: RoomManager;
  readonly model: EriModel;
  readonly pool: FeaturePool;
  readonly signalling = new Set<SignallingConnection>();
  readonly subscribers = new Set<SubscriberConnection>();
  readonly bus: Bus;
  readonly metrics: ServerMetrics;
  readonly auth: Authenticator;
  readonly studies: StudyDeps;
  readonly admission: Admission;
  readonly #aggregator: RoomAggregator;
  readonly nodes: RedisNodes | undefined;
  publicUrl = '';
  readonly #gateway: WsGateway;
  readonly #clientIp: AddressOf;
  readonly #log: Log;
  #closed = false;
  #draining = false;

  private constructor(
    config: ServerConfig,
    parts: {
      model: EriModel;
      pool: FeaturePool;
      media: MediaWorkerPool;
      rooms: RoomManager;
      registry: SessionRegistry;
      bus: Bus;
      studies: StudyDeps;
      metrics: ServerMetrics;
    },
    logger: Logger,
  ) {
    const log = logTo(logger);
    this.studies = parts.studies;
    this.config = config;
    this.#clientIp = clientAddress({
      trustPeer: config.trustProxy,
      ...(config.trustedProxies ? { trusted: config.trustedProxies } : {}),
    });
    this.model = parts.model;
    this.pool = parts.pool;
    this.media = parts.media;
    this.rooms = parts.rooms;
    this.registry = parts.registry;
    this.#log = log;
    this.bus = parts.bus;
    this.metrics = parts.metrics;
    this.auth = new Authenticator(config);
    this.admission = new Admission(config);
    if (this.bus instanceof RedisBus) {
      const bus = this.bus;
      this.nodes = new RedisNodes(bus, {
        heartbeatMs: config.nodeHeartbeatMs,
        ttlMs: config.nodeTtlMs,
        load: () => this.load(),
        liveSessions: () =>
          this.registry
            .list()
            .filter((s) => s.state !== 'ended')
            .map((s) => ({ id: s.id, roomId: s.roomId })),
        onLog: log,
      });
      this.metrics.watchRedis(bus);
    } else if (this.bus instanceof LocalBus) this.metrics.watchHistory(this.bus);
    const nodes = this.nodes;
    this.#aggregator = new RoomAggregator(this.bus, {
      intervalMs: config.strideSeconds * 1000,
      ...(nodes ? { claim: (roomId: string, ms: number) => nodes.claimRoom(roomId, ms) } : {}),
    });
    this.registry.events$.subscribe((event) => {
      if (event.type === 'estimate') {
        this.metrics.estimates.inc();
        this.metrics.estimateLatency.observe(event.estimate.latencyMs / 1000);
        this.bus.publish({
          kind: 'estimate',
          sessionId: event.estimate.sessionId,
          roomId: event.estimate.roomId,
          estimate: event.estimate,
        });
      } else if (event.type === 'session.started') {
        this.bus.publish({
          kind: 'session.started',
          sessionId: event.sessionId,
          roomId: event.roomId,
          at: event.at,
          ...(event.studyId ? { studyId: event.studyId } : {}),
        });
        this.nodes?.sessionStarted(event.sessionId).catch(() => {});
      } else {
        this.nodes?.sessionEnded(event.sessionId).catch(() => {});
        this.bus.publish({
          kind: 'session.ended',
          sessionId: event.sessionId,
          roomId: event.roomId,
          at: event.at,
          reason: event.reason,
          ...(event.error ? { error: event.error } : {}),
        });
      }
    });
    this.http = Fastify({
      loggerInstance: logger as FastifyBaseLogger,
      bodyLimit: 1024 * 1024,
      // A caller's own request id is kept (a proxy's, a client's), else one is made; every record of
      // the request carries it as requestId, and the response says it in x-request-id.
      requestIdHeader: 'x-request-id',
      genReqId: () => randomUUID(),
      // Fastify's two records per request give way to one, with the status and time (request-log.ts).
      logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    });
    logRequests(this.http);
    applyHttpConventions(this.http, { onError: (code) => this.metrics.error('rest', code) });
    this.#gateway = new WsGateway({
      auth: this.auth,
      admission: this.admission,
      clientIp: this.#clientIp,
      admitting: () => !this.#closed && !this.#draining,
      // Above the configured limit, so an oversized message gets a typed error, not a drop.
      maxPayload: Math.max(16 * 1024 * 1024, config.maxFrameBytes * 2),
      onRefused: (endpoint, code) => this.metrics.refused(endpoint, code),
      onConnection: (endpoint, ws, principal) => this.#open(endpoint, ws, principal),
    });
    this.#routes();
  }

  static async create(
    config: ServerConfig,
    modelDir: string,
    logger: Logger = silentLogger(),
  ): Promise<EriServer> {
    const log = logTo(logger);
    const model = await EriModel.load(modelDir, {
      engine: 'pool',
      workers: config.inferenceWorkers,
      featureSpec: faceAudioSpec({ iris: config.faceIris }),
    });
    const pool = new FeaturePool({
      workers: config.featureWorkers,
      tracking: { detectEvery: config.faceDetectEvery },
      ...(config.faceBatch ? { tasksPerWorker: config.faceBatch } : {}),
      face: {
        backend: config.faceBackend,
        iris: config.faceIris,
        ...(config.faceProviders ? { executionProviders: config.faceProviders } : {}),
      },
    });
    let rooms: RoomManager | undefined;
    let media: MediaWorkerPool | undefined;
    try {
      log(`face analysis: ${await pool.warmup()}, ${pool.workers} worker threads`);
      media = await MediaWorkerPool.create(
        { workers: config.mediaWorkers, rtcMinPort: config.rtc.minPort, rtcMaxPort: config.rtc.maxPort },
        // Its routers close with it, which closes their rooms (Room listens to its router).
        (death) =>
          log(
            `mediasoup worker ${death.pid} died (${death.error.message}); its rooms are closed and a replacement starts`,
            { level: 'error' },
          ),
      );
      const openRooms = new RoomManager(media);
      rooms = openRooms;
      const metrics = new ServerMetrics({
        sessions: () => registry.size,
        rooms: () => openRooms.size,
        build: {
          version: PACKAGE_VERSION,
          model: model.card.name,
          modelVersion: model.card.version,
          featureSpec: model.card.featureSpec.id,
          node: process.version,
        },
      });
      const registry: SessionRegistry = new SessionRegistry({
        observer: metrics.observer,
        pool,
        batcher: new InferenceBatcher(model.engine, model.architecture),
        model: `${model.card.name}@${model.card.version}`,
        rateHz: ERI_FACE_AUDIO_SPEC.rateHz ?? 10,
        frameSize: DEFAULT_ANALYSIS_SIZE,
        windowSeconds: config.windowSeconds,
        strideSeconds: config.strideSeconds,
        alignWaitMs: config.alignWaitMs,
        maxSessions: config.maxSessions,
      });
      registry.events$.subscribe((event) => {
        if (event.type === 'session.started')
          log(`session ${event.sessionId} started in room ${event.roomId}`, {
            sessionId: event.sessionId,
            roomId: event.roomId,
          });
        if (event.type === 'session.ended') {
          log(
            `session ${event.sessionId} ended (${event.reason}${event.error ? `: ${event.error.message}` : ''})`,
            {
              sessionId: event.sessionId,
              roomId: event.roomId,
              level: event.error ? 'warn' : 'info',
              details: {
                reason: event.reason,
                ...(event.error ? { error: event.error } : {}),
                stats: event.stats,
              },
            },
          );
        }
      });
      const bus: Bus = config.redisUrl
        ? await RedisBus.create({
            url: config.redisUrl,
            nodeId: nodeIdOf(config),
            retentionSeconds: config.historyRetentionSeconds,
            onLog: log,
          })
        : new LocalBus(openLocalHistory(config), log);
      const studies: StudyDeps = {
        store: new StudyStore(
          config.dataDir,
          bus instanceof RedisBus
            ? new RedisStudyCatalog(bus.client, log)
            : await FileStudyCatalog.open(join(config.dataDir, 'studies'), log),
        ),
        tracker: new StudyTracker((sessionId, marker) => bus.recordMarker(sessionId, marker)),
      };
      return new EriServer(config, { model, pool, media, rooms, registry, bus, studies, metrics }, logger);
    } catch (error) {
      media?.close();
      await pool.close();
      await model.close();
      throw error;
    }
  }

  #routes(): void {
    const http = this.http;
    http.decorateRequest('principal', null);
    // Before the authentication hook (Fastify runs hooks in the order registered), so a refusal reaches
    // an allowed page as a typed error it can read, and a preflight (which carries no credentials by
    // the spec) is answered here.
    if (this.config.corsOrigins.length > 0) http.register(cors, corsOptions(this.config.corsOrigins));
    http.addHook('onRequest', async (req, _reply) => {
      const path = req.url.split('?')[0] ?? '';
      if (!path.startsWith('/v1/') && path !== '/metrics') return;
      // The API's description is public: it says how to call, not what anyone published.
      // So is the model card: it says what the numbers are.
      if (path === '/v1/openapi.json' || path.startsWith('/v1/docs') || path === '/v1/model') return;
      try {
        req.principal = await this.auth.authenticate(req.headers, req.url);
      } catch (error) {
        throw isEriError(error) ? error : new EriError('ERI_ERR_UNAUTHENTICATED', 'authentication failed');
      }
    });
    const principal = (req: { principal: Principal | null }) => req.principal as Principal;
    // First, so that it sees every route registered after it.
    registerOpenApi(http);
    http.register(async (app) => {
      registerModelRoutes(app, { card: this.model.card, dir: this.model.dir });
      registerOpsRoutes(app, {
        metrics: this.metrics,
        checks: () => this.#readinessChecks(),
        sessions: () => this.registry.size,
        principal,
      });
      // Where a new publisher should connect: the least-loaded node with room, or 429 at capacity.
      app.withTypeProvider<ZodTypeProvider>().get(
        '/v1/placement',
        {
          schema: {
            tags: ['publishing'],
            summary: 'Where a new publisher should connect: the least-loaded node with room',
            response: {
              200: placementResponse,
              ...errorResponses(['ERI_ERR_FORBIDDEN', 'ERI_ERR_LIMIT']),
            },
          },
        },
        async (req) => {
          if (!access.anyPublish(principal(req)))
            throw new EriError(
              'ERI_ERR_FORBIDDEN',
              'placement is for publishers: the token has no publish scope',
            );
          const nodes = this.nodes
            ? await this.nodes.nodes()
            : [{ id: 'local', at: Date.now(), ...this.load() }];
          const node = placePublisher(nodes, this.config.placementMaxCpu);
          return { nodeId: node.id, url: node.url, sessions: node.sessions, maxSessions: node.maxSessions };
        },
      );
    });
    // History and studies are reads a client can repeat at will: limited per client address, so a burst
    // (2,000 at once) cannot starve health checks and live sessions.
    http.register(async (api) => {
      await api.register(rateLimit, {
        max: this.config.maxRestRequestsPerSecond,
        timeWindow: 1000,
        keyGenerator: (req) => this.#clientIp(req.raw),
        // Thrown by the plugin: the error handler answers it (429, from the table).
        errorResponseBuilder: (_req, context) =>
          new EriError(
            'ERI_ERR_LIMIT',
            `more than ${context.max} requests per second from this address; retry in ${context.after}`,
          ),
      });
      registerRestRoutes(api, { bus: this.bus, registry: this.registry, principal });
      registerStudyRoutes(api, {
        ...this.studies,
        bus: this.bus,
        principal,
        publicUrl: () => this.publicUrl,
      });
    });
    http.register(registerPageRoutes);
    http.register(async (app) => registerEdgeRoutes(app, {}));
    http.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#gateway.upgrade(req, socket, head),
    );
  }

  /** An admitted WebSocket: the connection that speaks its endpoint's protocol. */
  #open(path: WsEndpoint, ws: WebSocket, principal: Principal): void {
    const deps = {
      rooms: this.rooms,
      registry: this.registry,
      config: this.config,
      rateHz: ERI_FACE_AUDIO_SPEC.rateHz ?? 10,
      frameSize: DEFAULT_ANALYSIS_SIZE,
      frameBuffers: this.pool.frameBuffers,
      model: modelInfo(this.model.card),
      featureSpec: this.model.card.featureSpec,
      log: this.#log,
      principal,
      admission: this.admission,
      studies: this.studies,
      history: this.bus,
      onError: (code: ErrorCode) =>
        this.metrics.error(
          path === '/v1/stream' ? 'stream' : path === '/v1/signal' ? 'signal' : 'ingest',
          code,
        ),
    };
    if (path === '/v1/stream') {
      const subscriber = new SubscriberConnection(ws, {
        bus: this.bus,
        model: deps.model,
        heartbeatMs: this.config.subscriberHeartbeatMs,
        maxMessageBytes: Math.min(64 * 1024, this.config.maxMessageBytes),
        maxMessagesPerSecond: this.config.maxMessagesPerSecond,
        highWaterBytes: this.config.subscriberHighWaterBytes,
        slowGraceMs: this.config.subscriberGraceMs,
        authorize: async (target) => {
          if (access.readAll(principal)) return true;
          const room = 'sessionId' in target ? (await this.bus.session(target.sessionId))?.roomId : undefined;
          return access.target(principal, target, room);
        },
        onSent: (n) => this.metrics.messagesOut.inc(n),
        onError: deps.onError,
        onDelivered: (madeAt) =>
          this.metrics.deliveryLatency.observe(Math.max(0, Date.now() - madeAt) / 1000),
      });
      this.subscribers.add(subscriber);
      this.metrics.subscribers.set(this.subscribers.size);
      ws.on('close', () => {
        this.subscribers.delete(subscriber);
        this.metrics.subscribers.set(this.subscribers.size);
      });
    } else if (path === '/v1/signal') {
      const connection = new SignallingConnection(ws, deps);
      this.signalling.add(connection);
      ws.on('close', () => this.signalling.delete(connection));
    } else {
      new FrameIngestConnection(ws, deps);
    }
  }

  /** What must answer for this node to take a new viewer (see readiness.ts). */
  #readinessChecks(): ReadinessCheck[] {
    const checks: ReadinessCheck[] = [
      {
        name: 'admitting',
        probe: async () => {
          if (this.#closed || this.#draining) throw new Error('the server is shutting down');
        },
      },
      { name: 'features', probe: () => this.pool.ping() },
      { name: 'inference', probe: () => this.model.engine.ping() },
      {
        name: 'media',
        probe: async () => {
          const worker = this.media.workers[0];
          if (!worker) throw new Error('no mediasoup worker is running');
          await worker.getResourceUsage();
        },
      },
    ];
    const bus = this.bus;
    if (bus instanceof RedisBus)
      checks.push({
        name: 'redis',
        probe: async () => {
          if (!bus.stats.connected) throw new Error('not connected');
          await bus.client.ping();
        },
      });
    return checks;
  }

  /** This node's load, as the registry and placement see it. */
  load(): NodeLoad {
    return {
      url: this.publicUrl,
      sessions: this.registry.size,
      maxSessions: this.config.maxSessions,
      cpu: (loadavg()[0] ?? 0) / availableParallelism(),
    };
  }

  async listen(): Promise<string> {
    await this.http.listen({ host: this.config.host, port: this.config.port });
    const address = this.http.server.address();
    const port = typeof address === 'object' && address ? address.port : this.config.port;
    const url = `http://${this.config.host}:${port}`;
    this.publicUrl = this.config.publicUrl ?? reachableUrl(this.config.host, port, this.#log);
    this.nodes?.start();
    return url;
  }

  /**
   * Graceful stop (SIGTERM): admit nothing new, end every session (each publisher and subscriber gets
   * the final estimate and session.ended with reason 'shutdown'), flush the bus, let each subscriber's
   * queue drain and close it with 1001, then close everything, all within `deadlineMs`.
   */
  async shutdown(deadlineMs = this.config.shutdownDeadlineMs): Promise<void> {
    if (this.#closed || this.#draining) return;
    const deadline = Date.now() + deadlineMs;
    const left = () => Math.max(0, deadline - Date.now());
    this.#draining = true;
    this.registry.stopAdmitting();
    this.#log(
      `shutting down: ending ${this.registry.size} session(s), then closing ${this.subscribers.size} subscriber(s); deadline ${deadlineMs} ms`,
    );
    await this.registry.endAll(left() * 0.6, 'shutdown');
    await this.bus.flush(left() * 0.5);
    // Through Redis the events come back over pub/sub: give them a moment to arrive.
    if (this.nodes) await new Promise((r) => setTimeout(r, Math.min(250, left())));
    await Promise.all(
      [...this.subscribers].map((s) => s.closeGracefully(left() * 0.8, 1001, 'server shutting down')),
    );
    for (const client of this.#gateway.clients) client.close(1001, 'server shutting down');
    await this.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Sessions end first, so each publisher still gets its final estimate and the reason.
    await this.registry.endAll();
    await new Promise((r) => setTimeout(r, 50));
    for (const client of this.#gateway.clients) client.terminate();
    await this.http.close();
    this.#aggregator.close();
    await this.nodes?.close();
    await this.bus.close();
    this.rooms.close();
    this.media.close();
    await this.pool.close();
    await this.model.close();
  }
}
