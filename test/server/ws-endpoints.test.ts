import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { errorBodySchema } from '../../src/contracts/error-body.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/**
 * The three WebSocket endpoints share one connection base: the same hostile input gets the same typed
 * error (code and message) on each, in that protocol's envelope, and each ends a peer that stops
 * answering pings.
 */

const ENDPOINTS = ['/v1/signal', '/v1/ingest', '/v1/stream'] as const;
type Endpoint = (typeof ENDPOINTS)[number];
const MAX_MESSAGE_BYTES = 4096;
const RATE = 20;

interface Peer {
  ws: WebSocket;
  errors: { code: string; message: string }[];
  replies: number;
}

/** The error of a message in its endpoint's envelope, if it is one. */
function errorOf(endpoint: Endpoint, m: Record<string, unknown>): unknown {
  if (endpoint === '/v1/signal') return m.ok === false ? m.error : undefined;
  if (m.type !== 'error') return undefined;
  const { type: _type, id: _id, ...body } = m;
  return body;
}

async function connect(url: string, endpoint: Endpoint, options: { autoPong?: boolean } = {}): Promise<Peer> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${endpoint}`, options);
  const peer: Peer = { ws, errors: [], replies: 0 };
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as Record<string, unknown>;
    const error = errorOf(endpoint, m);
    if (error === undefined) return;
    peer.replies++;
    // One shape of error on every endpoint.
    peer.errors.push(errorBodySchema.strict().parse(error));
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  // The stream greets first; let that pass.
  await sleep(50);
  return peer;
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await sleep(20);
}

describe('one WebSocket connection base', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  before(async () => {
    t = await startServer({
      maxMessageBytes: MAX_MESSAGE_BYTES,
      maxMessagesPerSecond: RATE,
      publisherTimeoutMs: 600,
      subscriberHeartbeatMs: 300,
    });
  });
  after(() => t?.stop());

  it('not JSON, too large and a burst past the rate get the same typed errors on every endpoint', async () => {
    const seen: Record<string, string[]> = {};
    for (const endpoint of ENDPOINTS) {
      const peer = await connect(t.url, endpoint);
      peer.ws.send('nope');
      await until(() => peer.errors.length >= 1);
      await sleep(1100); // the bucket refills
      peer.ws.send('x'.repeat(MAX_MESSAGE_BYTES + 1));
      await until(() => peer.errors.length >= 2);
      seen[endpoint] = peer.errors.map((e) => `${e.code}: ${e.message}`);
      peer.ws.close();
    }
    const [first, ...rest] = ENDPOINTS.map((e) => seen[e]);
    assert.deepEqual(first, [
      'ERI_ERR_MALFORMED_MESSAGE: message is not JSON',
      `ERI_ERR_LIMIT: message of ${MAX_MESSAGE_BYTES + 1} bytes exceeds the ${MAX_MESSAGE_BYTES}-byte limit`,
    ]);
    for (const r of rest) assert.deepEqual(r, first);
  });

  it('every message of a burst is answered, and those past twice the rate are refused with ERI_ERR_LIMIT', async () => {
    for (const endpoint of ENDPOINTS) {
      const peer = await connect(t.url, endpoint);
      const burst = 4 * RATE;
      for (let i = 0; i < burst; i++) peer.ws.send('{"type":"nonsense"}');
      await until(() => peer.replies >= burst);
      const limited = peer.errors.filter((e) => e.code === 'ERI_ERR_LIMIT');
      assert.equal(peer.replies, burst, `${endpoint}: every message answered`);
      assert.ok(limited.length >= burst - 2 * RATE - 5, `${endpoint}: ${limited.length} refused`);
      assert.match(limited[0]?.message ?? '', new RegExp(`more than ${RATE} messages per second`));
      assert.equal(peer.ws.readyState, WebSocket.OPEN, `${endpoint}: the connection stays`);
      peer.ws.close();
    }
  });

  it('binary messages on the JSON-only endpoints get the same error', async () => {
    const messages: string[] = [];
    for (const endpoint of ['/v1/signal', '/v1/stream'] as const) {
      const peer = await connect(t.url, endpoint);
      peer.ws.send(Buffer.from([1, 2, 3]));
      await until(() => peer.errors.length >= 1);
      messages.push(`${peer.errors[0]?.code}: ${peer.errors[0]?.message}`);
      peer.ws.close();
    }
    assert.deepEqual(messages, [
      'ERI_ERR_MALFORMED_MESSAGE: messages are JSON text, not binary',
      'ERI_ERR_MALFORMED_MESSAGE: messages are JSON text, not binary',
    ]);
  });

  it('a half-open peer (answers no ping) is closed by the server on every endpoint', async () => {
    const closedAfter = await Promise.all(
      ENDPOINTS.map(async (endpoint) => {
        const peer = await connect(t.url, endpoint, { autoPong: false });
        const started = Date.now();
        const closed = await Promise.race([
          new Promise<boolean>((resolve) => peer.ws.once('close', () => resolve(true))),
          sleep(8000).then(() => false),
        ]);
        peer.ws.terminate();
        return { endpoint, closed, ms: Date.now() - started };
      }),
    );
    for (const c of closedAfter) assert.ok(c.closed, `${c.endpoint} left a silent peer open`);
  });
});
