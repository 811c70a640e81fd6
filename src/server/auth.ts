import { createHash, createPublicKey, type KeyObject, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { StreamTarget } from '../contracts/stream-protocol.js';
import { EriError } from '../errors.js';

/**
 * Who a request is and what it may do. Tokens are JWTs (HS256 with a shared secret, ES256 with a public
 * key) whose `scope` claim (space-separated, or an array) grants:
 *
 *   publish:<room>            publish any session into <room>      publish:*   any room
 *   publish:<room>/<session>  publish only that session id
 *   subscribe:<room>          read <room>'s sessions, estimates, aggregates and history   subscribe:*  all
 *   subscribe:<room>/<session>  read only that session
 *   metrics                   scraping /metrics, and nothing else (a Prometheus scrape token)
 *   admin                     everything, plus deleting history and /metrics
 *
 * The token travels as `Authorization: Bearer <jwt>` or, where a browser WebSocket cannot set headers,
 * as the `access_token` query parameter. With --insecure-dev nobody authenticates and every request may
 * do everything (refused when NODE_ENV=production).
 */

export interface RoomScope {
  kind: 'publish' | 'subscribe';
  /** A room id, or '*' for every room. */
  room: string;
  session?: string;
}

export type Scope = RoomScope | { kind: 'admin' } | { kind: 'metrics' };

export interface Principal {
  subject: string;
  /** Counts connections and sessions per token; undefined in insecure dev mode (no per-token limits). */
  tokenId: string | undefined;
  scopes: readonly Scope[];
}

export const INSECURE_DEV_PRINCIPAL: Principal = {
  subject: 'insecure-dev',
  tokenId: undefined,
  scopes: [{ kind: 'admin' }],
};

const ID = '[A-Za-z0-9._:-]{1,64}';
const SCOPE_RE = new RegExp(`^(publish|subscribe):(\\*|${ID})(?:/(${ID}))?$`);

export function parseScopes(claim: unknown): Scope[] {
  const items = typeof claim === 'string' ? claim.split(/\s+/) : Array.isArray(claim) ? claim : [];
  const out: Scope[] = [];
  for (const item of items) {
    if (typeof item !== 'string' || item === '') continue;
    if (item === 'admin' || item === 'metrics') {
      out.push({ kind: item });
      continue;
    }
    const m = SCOPE_RE.exec(item);
    if (!m)
      throw new EriError('ERI_ERR_UNAUTHENTICATED', `token scope '${item.slice(0, 80)}' is not understood`);
    const [, kind, room, session] = m as unknown as [
      string,
      'publish' | 'subscribe',
      string,
      string | undefined,
    ];
    if (room === '*' && session)
      throw new EriError('ERI_ERR_UNAUTHENTICATED', `token scope '${item}': a session needs a room`);
    out.push({ kind, room, ...(session ? { session } : {}) });
  }
  return out;
}

const isAdmin = (p: Principal) => p.scopes.some((s) => s.kind === 'admin');

function grants(p: Principal, kind: 'publish' | 'subscribe', room: string, session?: string): boolean {
  return (
    isAdmin(p) ||
    p.scopes.some(
      (s) =>
        s.kind === kind &&
        (s.room === '*' || s.room === room) &&
        (s.session === undefined || (session !== undefined && s.session === session)),
    )
  );
}

export const access = {
  admin: isAdmin,
  scrape: (p: Principal) => isAdmin(p) || p.scopes.some((s) => s.kind === 'metrics'),
  anyPublish: (p: Principal) => isAdmin(p) || p.scopes.some((s) => s.kind === 'publish'),
  anySubscribe: (p: Principal) => isAdmin(p) || p.scopes.some((s) => s.kind === 'subscribe'),
  /** A session id the token pins the publisher to in this room, if any (publish:<room>/<session>). */
  pinnedSession(p: Principal, room: string): string | undefined {
    if (isAdmin(p)) return undefined;
    const own = p.scopes.filter(
      (s): s is RoomScope => s.kind === 'publish' && (s.room === '*' || s.room === room),
    );
    return own.some((s) => s.session === undefined) ? undefined : own[0]?.session;
  },
  publish: (p: Principal, room: string, session?: string) => grants(p, 'publish', room, session),
  /** May read this session (its estimates, history, final, end)? */
  readSession: (p: Principal, room: string, session: string) => grants(p, 'subscribe', room, session),
  /** May follow a whole room (every session in it and its aggregate)? */
  readRoom: (p: Principal, room: string) =>
    isAdmin(p) ||
    p.scopes.some((s) => s.kind === 'subscribe' && (s.room === '*' || s.room === room) && !s.session),
  readAll: (p: Principal) => isAdmin(p) || p.scopes.some((s) => s.kind === 'subscribe' && s.room === '*'),
  /** The rooms some of whose sessions the token may read; undefined when it may read every room's. */
  readableRooms(p: Principal): string[] | undefined {
    if (access.readAll(p)) return undefined;
    return [...new Set(p.scopes.flatMap((s) => (s.kind === 'subscribe' && s.room !== '*' ? [s.room] : [])))];
  },
  /** Whether a stream target is within scope; for a session target, its room (unknown: undefined). */
  target(p: Principal, target: StreamTarget, sessionRoom: string | undefined): boolean {
    if ('all' in target) return access.readAll(p);
    if ('roomId' in target) return access.readRoom(p, target.roomId);
    return sessionRoom !== undefined && access.readSession(p, sessionRoom, target.sessionId);
  },
};

export interface AuthConfig {
  insecureDev: boolean;
  jwtSecret?: string | undefined;
  /** SPKI PEM of the ES256 key, or a path to a file holding it. */
  jwtPublicKey?: string | undefined;
  jwtIssuer?: string | undefined;
  jwtAudience?: string | undefined;
}

export function bearerToken(headers: IncomingHttpHeaders, url: string | undefined): string | undefined {
  const header = headers.authorization;
  if (typeof header === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (m) return m[1];
  }
  const query = new URL(url ?? '/', 'http://localhost').searchParams.get('access_token');
  return query || undefined;
}

export class Authenticator {
  readonly insecure: boolean;
  readonly #secret: Uint8Array | undefined;
  readonly #publicKey: KeyObject | undefined;
  readonly #config: AuthConfig;

  constructor(config: AuthConfig) {
    this.#config = config;
    this.insecure = config.insecureDev;
    this.#secret = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : undefined;
    if (config.jwtPublicKey) {
      const pem = config.jwtPublicKey.includes('-----BEGIN')
        ? config.jwtPublicKey
        : readFileSync(config.jwtPublicKey, 'utf8');
      try {
        this.#publicKey = createPublicKey(pem);
      } catch (cause) {
        throw new EriError(
          'ERI_ERR_INVALID_ARGUMENT',
          `ERI_JWT_PUBLIC_KEY is not a PEM public key: ${(cause as Error).message}`,
          { cause },
        );
      }
    }
  }

  /** The principal of a request: its verified token, or the insecure-dev principal. */
  async authenticate(headers: IncomingHttpHeaders, url: string | undefined): Promise<Principal> {
    if (this.insecure) return INSECURE_DEV_PRINCIPAL;
    const token = bearerToken(headers, url);
    if (!token) {
      throw new EriError(
        'ERI_ERR_UNAUTHENTICATED',
        'a token is required: Authorization: Bearer <jwt> or ?access_token=<jwt>',
      );
    }
    const alg = (() => {
      try {
        return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')).alg;
      } catch {
        return undefined;
      }
    })();
    const key = alg === 'HS256' ? this.#secret : alg === 'ES256' ? this.#publicKey : undefined;
    if (!key)
      throw new EriError(
        'ERI_ERR_UNAUTHENTICATED',
        `tokens signed with ${String(alg).slice(0, 16)} are not accepted here`,
      );
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [alg],
        ...(this.#config.jwtIssuer ? { issuer: this.#config.jwtIssuer } : {}),
        ...(this.#config.jwtAudience ? { audience: this.#config.jwtAudience } : {}),
      });
      return {
        subject: typeof payload.sub === 'string' ? payload.sub : 'anonymous',
        tokenId:
          typeof payload.jti === 'string'
            ? payload.jti
            : createHash('sha256').update(token).digest('hex').slice(0, 24),
        scopes: parseScopes(payload.scope),
      };
    } catch (error) {
      if (error instanceof EriError) throw error;
      const why =
        error instanceof joseErrors.JWTExpired
          ? 'the token has expired'
          : error instanceof joseErrors.JWTClaimValidationFailed
            ? `the token's ${error.claim} claim is not accepted`
            : 'the token is invalid (bad signature or format)';
      throw new EriError('ERI_ERR_UNAUTHENTICATED', why);
    }
  }
}

/**
 * A publisher's session admitted under its token: the session id (asked for, pinned by the token, or
 * new), checked against the publish scopes and counted against the token's live sessions. `release`
 * gives the count back when the session ends.
 */
export function admitPublisher(
  principal: Principal,
  sessions: { acquire(key: string): void; release(key: string): void },
  roomId: string,
  requested: string | undefined,
): { sessionId: string; release: () => void } {
  const sessionId = requested ?? access.pinnedSession(principal, roomId) ?? randomUUID();
  if (!access.publish(principal, roomId, sessionId)) {
    throw new EriError(
      'ERI_ERR_FORBIDDEN',
      `the token may not publish ${requested ? `session ${sessionId} ` : ''}in room ${roomId}`,
    );
  }
  const tokenId = principal.tokenId;
  if (!tokenId) return { sessionId, release: () => {} };
  sessions.acquire(tokenId);
  let released = false;
  return {
    sessionId,
    release: () => {
      if (!released) sessions.release(tokenId);
      released = true;
    },
  };
}
