import { EriError } from '../errors.js';

/** The server's admission limits: rates per connection, connections per IP and per token, sessions per token. */

/** A token bucket refilled continuously: `rate` per second, holding at most `burst`. */
export class RateLimit {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at = performance.now();

  constructor(rate: number, burst = rate) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
  }

  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#rate);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** Counts open things per key; `acquire` refuses past the limit, `release` gives one back. */
export class KeyedCounter {
  readonly #counts = new Map<string, number>();
  readonly #limit: number;
  readonly #what: string;

  constructor(limit: number, what: string) {
    this.#limit = limit;
    this.#what = what;
  }

  acquire(key: string): void {
    const n = this.#counts.get(key) ?? 0;
    if (n >= this.#limit) throw new EriError('ERI_ERR_LIMIT', `at most ${this.#limit} ${this.#what}`);
    this.#counts.set(key, n + 1);
  }

  release(key: string): void {
    const n = (this.#counts.get(key) ?? 0) - 1;
    if (n > 0) this.#counts.set(key, n);
    else this.#counts.delete(key);
  }

  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }
}

export interface AdmissionLimits {
  maxConnectionsPerIp: number;
  maxConnectionsPerToken: number;
  maxSessionsPerToken: number;
}

/** Connections per client IP and per token, and live sessions per token, across the whole server. */
export class Admission {
  readonly ip: KeyedCounter;
  readonly token: KeyedCounter;
  readonly sessions: KeyedCounter;

  constructor(limits: AdmissionLimits) {
    this.ip = new KeyedCounter(limits.maxConnectionsPerIp, 'WebSocket connections per client address');
    this.token = new KeyedCounter(limits.maxConnectionsPerToken, 'WebSocket connections per token');
    this.sessions = new KeyedCounter(limits.maxSessionsPerToken, 'live sessions per token');
  }

  /** Admits a connection or throws ERI_ERR_LIMIT; the returned function releases it (once). */
  connect(ip: string, tokenId: string | undefined): () => void {
    this.ip.acquire(ip);
    try {
      if (tokenId) this.token.acquire(tokenId);
    } catch (error) {
      this.ip.release(ip);
      throw error;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.ip.release(ip);
      if (tokenId) this.token.release(tokenId);
    };
  }
}
