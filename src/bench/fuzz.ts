import WebSocket from 'ws';
import { endpointUrl } from '../../packages/client/src/socket.js';
import { SeededRandom } from '../model/init.js';

/**
 * `eri fuzz`: random and mutated inputs on every WebSocket endpoint and REST route of a running server,
 * and (grammar mode) inputs that are valid in form with extreme values: times at and past their bounds,
 * ids at their longest, huge sequence numbers and counts, bursts of requests sent together.
 * Each input must be answered (a reply, an error with a code, an HTTP status below 500) or dropped by a
 * documented rule: well-formed media on the frame ingest is not acknowledged, and a message over the
 * size limit closes the connection with 1009. Anything else (no answer, a 5xx, the server down) is a
 * violation. Prints counts by outcome.
 */

export type Endpoint = 'signal' | 'ingest' | 'stream' | 'rest';

export interface FuzzReport {
  inputs: number;
  /** Inputs sent to each endpoint. */
  perEndpoint: Record<Endpoint, number>;
  /** /healthz round trips sampled during the run, ms. */
  health: { samples: number; p50Ms: number; p99Ms: number; maxMs: number; failed: number };
  seed: number;
  outcomes: Record<string, number>;
  violations: { endpoint: Endpoint; input: string; outcome: string }[];
  serverUp: boolean;
  elapsedS: number;
}

/** Valid messages per endpoint: the seeds the mutations start from. */
const SIGNAL_SEEDS = [
  { id: 1, method: 'join', params: { roomId: 'fuzz' } },
  { id: 2, method: 'createWebRtcTransport', params: {} },
  {
    id: 3,
    method: 'connectWebRtcTransport',
    params: { transportId: 't', dtlsParameters: { role: 'client', fingerprints: [] } },
  },
  { id: 4, method: 'createPlainTransport', params: { kind: 'video' } },
  {
    id: 5,
    method: 'produce',
    params: { transportId: 't', kind: 'audio', rtpParameters: { codecs: [], encodings: [] } },
  },
  { id: 6, method: 'pauseProducer', params: { producerId: 'p' } },
  { id: 7, method: 'requestEstimate', params: {} },
  { id: 8, method: 'leave', params: {} },
];
const INGEST_SEEDS = [{ type: 'start', roomId: 'fuzz' }, { type: 'end' }];
const STREAM_SEEDS = [
  { type: 'subscribe', id: 1, target: { roomId: 'fuzz' } },
  { type: 'subscribe', id: 2, target: { sessionId: 's' }, resume: { s: 3 } },
  { type: 'subscribe', id: 3, target: { all: true } },
  { type: 'unsubscribe', id: 4, subscription: 'x' },
  { type: 'ping', id: 5 },
];

class Mutator {
  readonly #r: SeededRandom;
  constructor(seed: number) {
    this.#r = new SeededRandom(seed);
  }
  int(n: number): number {
    return Math.floor(this.#r.uniform(0, n));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.#r.uniform(0, 1) < p;
  }
  value(): unknown {
    return this.pick<() => unknown>([
      () => null,
      () => this.int(1e6) - 5e5,
      () => Number.MAX_SAFE_INTEGER,
      () => -1,
      () => 1e308,
      () => '',
      () => 'x'.repeat(this.int(3000)),
      () => '\u0000\uffff\ud800 ☃',
      () => '../../etc/passwd',
      () => ({}),
      () => [],
      () => [this.int(9), 'a', null],
      () => true,
      () => ({ $gt: '' }),
      () => ({ __proto__: { admin: true } }),
    ])();
  }
  /** A mutated copy of a valid message: drop, retype or add fields, recursively. */
  mutate(message: unknown, depth = 0): unknown {
    if (message === null || typeof message !== 'object' || depth > 3)
      return this.chance(0.5) ? this.value() : message;
    if (Array.isArray(message)) return message.map((m) => this.mutate(m, depth + 1));
    const out: Record<string, unknown> = { ...(message as Record<string, unknown>) };
    const keys = Object.keys(out);
    const what = this.int(5);
    const key = this.pick(keys.length ? keys : ['x']);
    if (what === 0) delete out[key];
    else if (what === 1) out[key] = this.value();
    else if (what === 2) out[`extra${this.int(99)}`] = this.value();
    else if (what === 3) out[key] = this.mutate(out[key], depth + 1);
    return out;
  }
  /** Deeply nested JSON text, built as text (JSON.stringify would overflow the stack). */
  nested(levels: number): string {
    return `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** A text or binary WebSocket input built from `seeds`. */
  wsInput(seeds: readonly object[]): string | Buffer {
    switch (this.int(8)) {
      case 0:
        return JSON.stringify(this.pick(seeds));
      case 1: {
        const text = JSON.stringify(this.mutate(this.pick(seeds)));
        return text.slice(0, this.int(text.length + 1)); // truncated
      }
      case 2:
        return this.bytes(this.int(64));
      case 3:
        return this.nested(this.chance(0.5) ? 50 : 100_000);
      case 4:
        return this.pick(['', 'null', '[]', '"str"', '42', '{', 'true', '{"type":"subscribe"}', '{"id":-1}']);
      default:
        return JSON.stringify(this.mutate(this.pick(seeds)));
    }
  }
  /** An id that passes the id schema, often at its longest. */
  id(): string {
    return this.chance(0.5) ? 'z'.repeat(64) : `id-${this.int(1e6)}`;
  }
  /** A number at or just past a bound a real client never reaches. */
  extremeNumber(): number {
    return this.pick([0, 9.999, 10.001, 86_399.9, 86_400, Number.MAX_SAFE_INTEGER, 2 ** 31, 1e-9]);
  }
  /** A message valid in form with extreme values, for each endpoint's grammar. */
  grammarInput(endpoint: Exclude<Endpoint, 'rest'>): string | Buffer {
    if (endpoint === 'ingest') {
      if (this.chance(0.5)) return this.ingestBinary(this.pick([9.999, 10.001, 0, 86_399.9, 5e-324]));
      return JSON.stringify(
        this.pick([
          { type: 'start', roomId: this.id(), sessionId: this.id() },
          { type: 'start', roomId: this.id(), studyId: this.id() },
          { type: 'stimulus', event: 'seek', position: 6 * 3600, mediaTime: 86_400 },
          { type: 'end' },
        ]),
      );
    }
    if (endpoint === 'signal')
      return JSON.stringify(
        this.pick([
          { id: this.extremeNumber(), method: 'join', params: { roomId: this.id(), sessionId: this.id() } },
          { id: 1, method: 'join', params: { roomId: this.id(), studyId: this.id() } },
          { id: 2, method: 'createWebRtcTransport', params: {} },
          { id: 3, method: 'createPlainTransport', params: { kind: 'video' } },
          { id: 4, method: 'requestEstimate', params: {} },
          { id: 5, method: 'pauseProducer', params: { producerId: this.id() } },
        ]),
      );
    const resume = Object.fromEntries(
      Array.from({ length: this.pick([1, 64, 500]) }, () => [this.id(), this.extremeNumber()]),
    );
    return JSON.stringify(
      this.pick([
        { type: 'subscribe', id: this.extremeNumber(), target: { roomId: this.id() }, resume },
        { type: 'subscribe', id: 1, target: { sessionId: this.id() }, resume },
        { type: 'subscribe', id: 2, target: { all: true } },
        { type: 'unsubscribe', id: 3, subscription: this.id() },
        { type: 'ping', id: Number.MAX_SAFE_INTEGER },
      ]),
    );
  }
  /** A REST path valid in form with extreme values. */
  grammarPath(): string {
    const id = this.id();
    const cursor = Buffer.from(JSON.stringify([Number.MAX_SAFE_INTEGER, 'z'.repeat(256)])).toString(
      'base64url',
    );
    return this.pick([
      `/v1/sessions?limit=1000&cursor=${cursor}`,
      `/v1/sessions?limit=${this.pick(['1', '1000', '1001', '0'])}&room=${id}`,
      `/v1/sessions/${id}/estimates?from=${Number.MAX_SAFE_INTEGER}&format=csv`,
      `/v1/sessions/${id}/estimates?from=-1`,
      `/v1/sessions/${id}/markers`,
      `/v1/studies/${id}/timeline?format=csv`,
      `/v1/studies/${id}/thumbnail?at=${this.extremeNumber()}`,
      '/v1/studies',
    ]);
  }
  /** A binary frame-ingest message: a header with random fields, and a payload. */
  ingestBinary(time?: number): Buffer {
    const payload = this.chance(0.3)
      ? Buffer.concat([Buffer.from([0xff, 0xd8]), this.bytes(this.int(200)), Buffer.from([0xff, 0xd9])])
      : this.bytes(this.int(400));
    const header = Buffer.alloc(16);
    header[0] = time === undefined ? this.pick([0, 1, 2, 3, 255]) : this.pick([1, 2]);
    header.writeDoubleLE(
      // 86,399: valid in form, a day ahead of any real session (once created a day of steps).
      time ?? this.pick([Number.NaN, -1, 0, this.int(100) / 10, 86_399, 1e12, Number.POSITIVE_INFINITY]),
      8,
    );
    return this.chance(0.1) ? header.subarray(0, this.int(16)) : Buffer.concat([header, payload]);
  }
}

/** Messages that are not an answer to the input just sent: broadcasts and notifications. */
const NOT_ANSWERS: Record<Exclude<Endpoint, 'rest'>, Set<string>> = {
  stream: new Set(['hello', 'heartbeat', 'estimate', 'room.aggregate', 'session.started', 'session.ended']),
  // On the ingest, session.ended is the answer to `end`; estimates come on their own.
  ingest: new Set(['estimate']),
  signal: new Set(),
};

/** One connection to an endpoint that sends inputs one at a time and classifies what comes back. */
class FuzzConnection {
  #ws: WebSocket | undefined;
  #waiting: ((outcome: string) => void) | undefined;
  constructor(
    readonly url: string,
    readonly endpoint: Endpoint,
  ) {}

  async #open(): Promise<WebSocket> {
    if (this.#ws && this.#ws.readyState === WebSocket.OPEN) return this.#ws;
    const ws = new WebSocket(this.url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (data) => {
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(String(data));
      } catch {
        return this.#settle('reply:not-json');
      }
      if ('notification' in m || NOT_ANSWERS[this.endpoint as Exclude<Endpoint, 'rest'>].has(String(m.type)))
        return;
      const code =
        (m.error as { code?: string } | undefined)?.code ?? (m.type === 'error' ? m.code : undefined);
      this.#settle(code ? `error:${code}` : `ok:${String(m.type ?? (m.ok ? 'result' : 'reply'))}`);
      // A finished ingest session: the next input goes to a fresh connection (and a new session).
      if (this.endpoint === 'ingest' && m.type === 'session.ended') this.#ws?.close();
    });
    ws.on('close', (code) => this.#settle(`closed:${code}`));
    ws.on('error', () => {});
    this.#ws = ws;
    return ws;
  }

  #settle(outcome: string): void {
    this.#waiting?.(outcome);
  }

  /**
   * Sends an input, or a burst of them written together, and resolves with the first outcome that is
   * not an answer (an error, a close, silence), or the last answer once every one was answered.
   */
  async send(input: string | Buffer | readonly string[], timeoutMs: number): Promise<string> {
    const ws = await this.#open();
    const inputs = Array.isArray(input) ? input : [input as string | Buffer];
    return new Promise((resolve) => {
      let left = inputs.length;
      const done = (outcome: string) => {
        clearTimeout(timer);
        this.#waiting = undefined;
        resolve(outcome);
      };
      const timer = setTimeout(
        () => done(left === inputs.length ? 'silent' : `silent-after:${inputs.length - left}`),
        timeoutMs,
      );
      this.#waiting = (outcome) => {
        left--;
        if (left <= 0 || !outcome.startsWith('ok:')) done(outcome);
      };
      for (const one of inputs) ws.send(one);
    });
  }

  close(): void {
    this.#ws?.close();
  }
}

/** Whether an outcome is an answer or a documented drop (see the module comment). */
function allowed(endpoint: Endpoint, input: string | Buffer, outcome: string): boolean {
  if (outcome.startsWith('error:ERI_ERR_') || outcome.startsWith('ok:')) return true;
  if (outcome === 'closed:1009') return true; // over the size limit
  if (outcome === 'silent') return endpoint === 'ingest' && typeof input !== 'string';
  if (outcome.startsWith('http:')) return Number(outcome.slice(5)) < 500 || outcome === 'http:503';
  return false;
}

async function restInput(
  m: Mutator,
  base: string,
  token: string | undefined,
  grammar: boolean,
): Promise<{ input: string; outcome: string }> {
  const id = m.pick(['fuzz', 's', '%00', 'x'.repeat(300), '..%2F..', '{}', m.bytes(6).toString('hex')]);
  const path = grammar
    ? m.grammarPath()
    : m.pick([
        '/v1/sessions',
        `/v1/sessions/${id}`,
        `/v1/sessions/${id}/estimates?from=${m.pick(['-2', 'abc', '1e9', '', '0', '-1'])}&format=${m.pick(['json', 'csv', 'xml', ''])}`,
        `/v1/sessions/${id}/final`,
        '/v1/placement',
        '/metrics',
        `/v1/${id}`,
        `/v1/sessions?room=${id}`,
      ]);
  const method = grammar
    ? 'GET'
    : m.pick(['GET', 'GET', 'GET', 'DELETE', 'POST', 'PUT', 'PATCH', 'HEAD', 'OPTIONS']);
  const headers: Record<string, string> = {};
  if (token && m.chance(0.8)) headers.authorization = `Bearer ${token}`;
  else if (m.chance(0.5))
    headers.authorization = m.pick([
      'Bearer ',
      'Basic Zm9vOmJhcg==',
      `Bearer ${m.bytes(20).toString('base64')}`,
    ]);
  let body: string | undefined;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    headers['content-type'] = m.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded']);
    body = m.pick([JSON.stringify(m.mutate({ a: 1 })), '{', 'x'.repeat(m.int(5000))]);
  }
  const input = `${method} ${path}`;
  try {
    const r = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    await r.arrayBuffer();
    return { input, outcome: `http:${r.status}` };
  } catch (error) {
    return { input, outcome: `fetch-failed:${(error as Error).message}` };
  }
}

const ENDPOINTS: readonly Endpoint[] = ['signal', 'ingest', 'stream', 'rest'];

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) : 0;
}

/** /healthz round trips every `everyMs` until stopped: how much the fuzzing slows a health check. */
function sampleHealth(base: string, everyMs: number) {
  const samples: number[] = [];
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const ok = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) samples.push(performance.now() - t0);
      else failed++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return async (): Promise<FuzzReport['health']> => {
    running = false;
    await loop;
    const sorted = [...samples].sort((x, y) => x - y);
    return {
      samples: samples.length,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: sorted.at(-1) ?? 0,
      failed,
    };
  };
}

/**
 * `inputs` in all, spread evenly over the four endpoints; `grammar` is the share of inputs that are valid
 * in form with extreme values (the rest are random and mutated).
 */
export async function runFuzz(o: {
  url: string;
  inputs: number;
  seed?: number;
  token?: string;
  connections?: number;
  grammar?: number;
}): Promise<FuzzReport> {
  const seed = o.seed ?? 1;
  const grammarShare = o.grammar ?? 0.5;
  const started = performance.now();
  const base = o.url.replace(/\/$/, '');
  const outcomes: Record<string, number> = {};
  const perEndpoint: Record<Endpoint, number> = { signal: 0, ingest: 0, stream: 0, rest: 0 };
  const violations: FuzzReport['violations'] = [];
  const record = (endpoint: Endpoint, input: string | Buffer | readonly string[], outcome: string) => {
    const key = `${endpoint} ${outcome}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    perEndpoint[endpoint]++;
    const one = Array.isArray(input) ? `<burst of ${input.length}> ${input[0]}` : (input as string | Buffer);
    if (!allowed(endpoint, one, outcome) && violations.length < 50) {
      violations.push({
        endpoint,
        input: typeof one === 'string' ? one.slice(0, 120) : `<${one.length} bytes>`,
        outcome,
      });
    }
  };
  const connections = o.connections ?? 8;
  const perWorker = Math.ceil(o.inputs / connections);
  const health = sampleHealth(base, 250);
  let sent = 0;
  const worker = async (w: number) => {
    const m = new Mutator(seed * 1000 + w);
    const conns = {
      signal: new FuzzConnection(endpointUrl(base, '/v1/signal', o.token), 'signal'),
      ingest: new FuzzConnection(endpointUrl(base, '/v1/ingest', o.token), 'ingest'),
      stream: new FuzzConnection(endpointUrl(base, '/v1/stream', o.token), 'stream'),
    };
    try {
      for (let i = 0; i < perWorker && sent < o.inputs; i++, sent++) {
        const endpoint = ENDPOINTS[(i + w) % ENDPOINTS.length] as Endpoint;
        const grammar = m.chance(grammarShare);
        if (endpoint === 'rest') {
          const r = await restInput(m, base, o.token, grammar);
          record('rest', r.input, r.outcome);
          continue;
        }
        let input: string | Buffer | string[];
        if (grammar && endpoint !== 'ingest' && m.chance(0.1)) {
          // Requests sent together, as a client that does not wait for answers would.
          const one = m.grammarInput(endpoint) as string;
          input = Array.from({ length: m.pick([2, 10, 50]) }, () => one);
        } else if (grammar) input = m.grammarInput(endpoint);
        else
          input =
            endpoint === 'ingest' && m.chance(0.5)
              ? m.ingestBinary()
              : m.wsInput(
                  endpoint === 'signal' ? SIGNAL_SEEDS : endpoint === 'ingest' ? INGEST_SEEDS : STREAM_SEEDS,
                );
        let outcome: string;
        try {
          outcome = await conns[endpoint].send(
            input,
            endpoint === 'ingest' ? (typeof input === 'string' ? 5000 : 150) : 2000,
          );
        } catch (error) {
          outcome = `connect-failed:${(error as Error).message}`;
        }
        record(endpoint, input, outcome);
      }
    } finally {
      for (const c of Object.values(conns)) c.close();
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, w) => worker(w)));
  const healthReport = await health();
  const serverUp = await fetch(`${base}/healthz`).then(
    (r) => r.ok,
    () => false,
  );
  return {
    inputs: sent,
    perEndpoint,
    health: healthReport,
    seed,
    outcomes,
    violations,
    serverUp,
    elapsedS: (performance.now() - started) / 1000,
  };
}

export function formatFuzzReport(r: FuzzReport): string {
  const rows = Object.entries(r.outcomes).sort((a, b) => b[1] - a[1]);
  return [
    `${r.inputs} inputs (seed ${r.seed}) in ${r.elapsedS.toFixed(1)} s; server ${r.serverUp ? 'up' : 'DOWN'}; ${r.violations.length} violation(s)`,
    `  per endpoint: ${Object.entries(r.perEndpoint)
      .map(([e, n]) => `${e} ${n}`)
      .join(', ')}`,
    `  /healthz during the run: ${r.health.samples} samples, p50 ${r.health.p50Ms.toFixed(1)} ms, p99 ${r.health.p99Ms.toFixed(1)} ms, max ${r.health.maxMs.toFixed(1)} ms, ${r.health.failed} failed`,
    ...rows.map(([k, n]) => `  ${String(n).padStart(6)}  ${k}`),
    ...r.violations.slice(0, 10).map((v) => `  VIOLATION ${v.endpoint}: ${v.outcome} for ${v.input}`),
  ].join('\n');
}
