import { availableParallelism, hostname } from 'node:os';
import proxyaddr from '@fastify/proxy-addr';
import { z } from 'zod';
import { EriError } from '../errors.js';
import { faceBackendSchema, faceProvidersSchema } from '../features/face/face-settings.js';
import { DEFAULT_DETECT_EVERY } from '../features/face/track.js';
import { envFlagSchema } from '../util/env-flag.js';

/**
 * The server's configuration: every setting has a safe default, can come from the environment (ERI_*,
 * as container deployments set it) and be overridden by `eri serve` flags. Validated with zod at start,
 * so a typo fails loudly instead of running with a surprise.
 */

const cores = availableParallelism();

const flag = envFlagSchema;

export const serverConfigSchema = z.object({
  /** Where studies and their stimulus videos are kept (never viewers' media). */
  dataDir: z.string().min(1).default('.eri/data'),
  /** No authentication at all: for local use only; refused when NODE_ENV=production. */
  insecureDev: flag.default(false),
  /** HS256 shared secret for tokens (at least 32 characters). */
  jwtSecret: z.string().min(32, 'use a secret of at least 32 characters').optional(),
  /** ES256 public key for tokens: SPKI PEM, or a path to a file holding it. */
  jwtPublicKey: z.string().min(1).optional(),
  jwtIssuer: z.string().min(1).optional(),
  jwtAudience: z.string().min(1).optional(),
  /**
   * Web origins whose pages may call this server from their scripts (CORS): the REST API, the edge
   * library's graphs and runtime. Comma-separated (`https://study.example.org,https://app.example.org`),
   * or `*` for any. None by default: only pages this server serves. Tokens still decide what a call may
   * do; this only lets a browser on that origin read the answer.
   */
  corsOrigins: z
    .union([z.string(), z.array(z.string())])
    .default([])
    .transform((v) =>
      (typeof v === 'string' ? v.split(',') : v).map((x) => x.trim().replace(/\/$/, '')).filter(Boolean),
    )
    .refine((v) => v.every((o) => o === '*' || isOrigin(o)), {
      message: 'each CORS origin is scheme://host[:port], e.g. https://study.example.org, or *',
    }),
  /** Trust the immediate peer as a proxy (one hop of X-Forwarded-For); else the socket's peer is the client. */
  trustProxy: flag.default(false),
  /**
   * The proxies whose X-Forwarded-For entries are believed: addresses or CIDR ranges, comma-separated
   * (or `loopback`, `uniquelocal`). The client is the first address, from the right, that they report.
   */
  trustedProxies: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : undefined,
    )
    .refine((v) => {
      if (!v) return true;
      try {
        proxyaddr.compile(v);
        return true;
      } catch {
        return false;
      }
    }, 'ERI_TRUSTED_PROXIES: addresses or CIDR ranges, comma-separated'),
  maxConnectionsPerIp: z.coerce.number().int().positive().default(2000),
  maxConnectionsPerToken: z.coerce.number().int().positive().default(2000),
  maxSessionsPerToken: z.coerce.number().int().positive().default(16),
  /** Text (control) messages per second per WebSocket connection; a burst of twice that is allowed. */
  maxMessagesPerSecond: z.coerce.number().positive().default(100),
  /** REST requests (/v1/*) per second per client address; beyond, 429 ERI_ERR_LIMIT. */
  maxRestRequestsPerSecond: z.coerce.number().int().positive().default(50),
  /** A subscriber whose unsent bytes stay above this for subscriberGraceMs is disconnected (4008). */
  subscriberHighWaterBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  subscriberGraceMs: z.coerce.number().int().positive().default(10_000),
  /** SIGTERM: end sessions, tell everyone, flush, and exit within this long. */
  shutdownDeadlineMs: z.coerce.number().int().positive().default(10_000),
  host: z.string().default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Model package directory; defaults to $ERI_MODEL or the shipped starter model. */
  modelDir: z.string().optional(),
  rtc: z
    .object({
      /** Address mediasoup listens on for WebRTC media. */
      listenIp: z.string().default('127.0.0.1'),
      /** Public address announced in ICE candidates when the server is behind NAT. */
      announcedAddress: z.string().optional(),
      minPort: z.coerce.number().int().min(1024).max(65535).default(40000),
      maxPort: z.coerce.number().int().min(1024).max(65535).default(49999),
    })
    .default({ listenIp: '127.0.0.1', minPort: 40000, maxPort: 49999 }),
  mediaWorkers: z.coerce.number().int().min(1).default(cores),
  featureWorkers: z.coerce.number().int().min(1).default(cores),
  /** Face detector at least every this many frames (1: every frame); faces are tracked in between. */
  faceDetectEvery: z.coerce.number().int().min(1).default(DEFAULT_DETECT_EVERY),
  /** The face networks' runtime: onnx (onnxruntime, the default) or tfjs (Human, the reference). */
  faceBackend: faceBackendSchema.default('onnx'),
  /** onnx backend: onnxruntime execution providers in order of preference (default: cpu). */
  faceProviders: faceProvidersSchema.optional(),
  /** Refine the eyes with the iris net (the shipped models need it: features eri-face-audio-v2). */
  faceIris: flag.default(true),
  /** Frames a face worker takes at once, sharing each network call; default 1 on the CPU, 8 on a GPU provider. */
  faceBatch: z.coerce.number().int().min(1).max(64).optional(),
  inferenceWorkers: z.coerce.number().int().min(1).default(cores),
  windowSeconds: z.coerce.number().positive().default(30),
  strideSeconds: z.coerce.number().positive().default(1),
  /**
   * How long a step waits for its late modality (see alignMedia). Decoded video trails audio by a few
   * hundred ms on a loaded machine; past this the step goes without it.
   */
  alignWaitMs: z.coerce.number().int().nonnegative().default(1000),
  /** A publisher whose connection answers no ping for this long is gone. */
  publisherTimeoutMs: z.coerce.number().int().positive().default(15000),
  /** Subscribers are pinged (and sent a heartbeat message) this often; one silent for a whole period is closed. */
  subscriberHeartbeatMs: z.coerce.number().int().min(100).default(15000),
  /** Largest signalling or ingest message accepted (bytes); larger ones get ERI_ERR_LIMIT. */
  maxMessageBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024),
  /** Largest JPEG accepted on the frame ingest. */
  maxFrameBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(2 * 1024 * 1024),
  /** Frames per second accepted per ingest connection. */
  maxFrameRate: z.coerce.number().positive().default(30),
  maxSessions: z.coerce.number().int().positive().default(64),
  /** Redis for multi-node: the bus, history, studies and the session registry. Unset: the embedded store. */
  redisUrl: z.string().url().optional(),
  /** This node's id in the registry; defaults to host name and pid. */
  nodeId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/)
    .optional(),
  /** The URL clients reach this node at (placement answers with it). */
  publicUrl: z.string().url().optional(),
  nodeHeartbeatMs: z.coerce.number().int().positive().default(2000),
  /** A node whose heartbeat is older than this is lost: its sessions end with reason node-lost. */
  nodeTtlMs: z.coerce.number().int().positive().default(6000),
  /** A node whose load per core (1-minute average) is above this takes no new publishers. */
  placementMaxCpu: z.coerce.number().positive().default(0.9),
  /**
   * Where the embedded node keeps history (without REDIS_URL): `sqlite` (default, `<dataDir>/history.sqlite`,
   * kept across restarts) or `memory` (lost on restart).
   */
  historyStore: z.enum(['sqlite', 'memory']).default('sqlite'),
  /** How long an ended session's history (estimates, its final estimate, markers) is kept; 0: forgotten at its end. */
  historyRetentionSeconds: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(7 * 24 * 3600),
});

export type ServerConfig = z.infer<typeof serverConfigSchema>;

/** The environment variables each setting is read from. */
export const ENV_NAMES = {
  dataDir: 'ERI_DATA_DIR',
  insecureDev: 'ERI_INSECURE_DEV',
  jwtSecret: 'ERI_JWT_SECRET',
  jwtPublicKey: 'ERI_JWT_PUBLIC_KEY',
  jwtIssuer: 'ERI_JWT_ISSUER',
  jwtAudience: 'ERI_JWT_AUDIENCE',
  trustProxy: 'ERI_TRUST_PROXY',
  trustedProxies: 'ERI_TRUSTED_PROXIES',
  corsOrigins: 'ERI_CORS_ORIGINS',
  maxConnectionsPerIp: 'ERI_MAX_CONNECTIONS_PER_IP',
  maxConnectionsPerToken: 'ERI_MAX_CONNECTIONS_PER_TOKEN',
  maxSessionsPerToken: 'ERI_MAX_SESSIONS_PER_TOKEN',
  maxMessagesPerSecond: 'ERI_MAX_MESSAGES_PER_SECOND',
  maxRestRequestsPerSecond: 'ERI_MAX_REST_REQUESTS_PER_SECOND',
  subscriberHighWaterBytes: 'ERI_SUBSCRIBER_HIGH_WATER_BYTES',
  subscriberGraceMs: 'ERI_SUBSCRIBER_GRACE_MS',
  shutdownDeadlineMs: 'ERI_SHUTDOWN_DEADLINE_MS',
  host: 'ERI_HOST',
  port: 'ERI_PORT',
  modelDir: 'ERI_MODEL',
  'rtc.listenIp': 'ERI_RTC_LISTEN_IP',
  'rtc.announcedAddress': 'ERI_RTC_ANNOUNCED_ADDRESS',
  'rtc.minPort': 'ERI_RTC_MIN_PORT',
  'rtc.maxPort': 'ERI_RTC_MAX_PORT',
  mediaWorkers: 'ERI_MEDIA_WORKERS',
  featureWorkers: 'ERI_FEATURE_WORKERS',
  faceDetectEvery: 'ERI_FACE_DETECT_EVERY',
  faceBackend: 'ERI_FACE_BACKEND',
  faceProviders: 'ERI_FACE_PROVIDERS',
  faceIris: 'ERI_FACE_IRIS',
  faceBatch: 'ERI_FACE_BATCH',
  inferenceWorkers: 'ERI_INFERENCE_WORKERS',
  windowSeconds: 'ERI_WINDOW_SECONDS',
  strideSeconds: 'ERI_STRIDE_SECONDS',
  alignWaitMs: 'ERI_ALIGN_WAIT_MS',
  publisherTimeoutMs: 'ERI_PUBLISHER_TIMEOUT_MS',
  subscriberHeartbeatMs: 'ERI_SUBSCRIBER_HEARTBEAT_MS',
  maxMessageBytes: 'ERI_MAX_MESSAGE_BYTES',
  maxFrameBytes: 'ERI_MAX_FRAME_BYTES',
  maxFrameRate: 'ERI_MAX_FRAME_RATE',
  maxSessions: 'ERI_MAX_SESSIONS',
  redisUrl: 'REDIS_URL',
  nodeId: 'ERI_NODE_ID',
  publicUrl: 'ERI_PUBLIC_URL',
  nodeHeartbeatMs: 'ERI_NODE_HEARTBEAT_MS',
  nodeTtlMs: 'ERI_NODE_TTL_MS',
  historyRetentionSeconds: 'ERI_HISTORY_RETENTION_SECONDS',
  historyStore: 'ERI_HISTORY_STORE',
  placementMaxCpu: 'ERI_PLACEMENT_MAX_CPU',
} as const;

type Input = Record<string, unknown>;

function set(target: Input, path: string, value: unknown): void {
  const parts = path.split('.');
  let at = target;
  for (const p of parts.slice(0, -1)) {
    at[p] ??= {};
    at = at[p] as Input;
  }
  at[parts.at(-1) as string] = value;
}

/** Environment first, then `overrides` (flags); validated. */
export function loadServerConfig(env: NodeJS.ProcessEnv = process.env, overrides: Input = {}): ServerConfig {
  const input: Input = {};
  for (const [path, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== '') set(input, path, value);
  }
  for (const [path, value] of Object.entries(overrides)) if (value !== undefined) set(input, path, value);
  const parsed = serverConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') ?? '';
    const env = ENV_NAMES[path as keyof typeof ENV_NAMES];
    throw new EriError(
      'ERI_ERR_INVALID_ARGUMENT',
      `invalid setting ${path}${env ? ` (${env})` : ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const c = parsed.data;
  if (c.insecureDev && env.NODE_ENV === 'production') {
    throw new EriError(
      'ERI_ERR_INVALID_ARGUMENT',
      '--insecure-dev (ERI_INSECURE_DEV) is refused when NODE_ENV=production: configure ERI_JWT_SECRET or ERI_JWT_PUBLIC_KEY',
    );
  }
  if (!c.insecureDev && !c.jwtSecret && !c.jwtPublicKey) {
    throw new EriError(
      'ERI_ERR_INVALID_ARGUMENT',
      'no authentication configured: set ERI_JWT_SECRET (HS256) or ERI_JWT_PUBLIC_KEY (ES256), or pass --insecure-dev for local use only',
    );
  }
  if (parsed.data.rtc.minPort > parsed.data.rtc.maxPort) {
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', 'rtc.minPort must not exceed rtc.maxPort');
  }
  return parsed.data;
}

/** This node's id: ERI_NODE_ID, or the host name and pid (unique on one machine, readable in logs). */
export function nodeIdOf(config: Pick<ServerConfig, 'nodeId'>): string {
  return config.nodeId ?? `${hostname()}-${process.pid}`;
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
