import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { mintToken } from '../../src/cli/token.js';
import { loadServerConfig } from '../../src/server/config.js';
import { fakeEstimate } from '../helpers.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/**
 * Scopes on every entry point: a token without the scope is refused, and nothing outside a token's
 * scope reaches it: not through `all`, room aggregates, history, or the errors it gets back.
 */

const SECRET = 'test-secret-of-at-least-32-characters!!';
const token = (scope: string, ttlSeconds = 600) =>
  mintToken({ secret: SECRET, scope, ttlSeconds, subject: 't' });

/**
 * A WebSocket connection's outcome: open (status 101, the socket), or refused, with the close code, the
 * error code (from the `{type: 'error'}` message, else the close reason's endpoint convention) and the
 * reason. A refusal is an accepted upgrade closed at once with 4401/4403/4429, so a browser can read it.
 */
function upgrade(
  url: string,
): Promise<{ status: number; closeCode?: number; code?: string; reason?: string; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let code: string | undefined;
    let settle: NodeJS.Timeout | undefined;
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m.type === 'error') code = m.code;
    });
    ws.once('open', () => {
      // An admitted socket stays open; a refused one is closed by the server within milliseconds.
      settle = setTimeout(() => resolve({ status: 101, ws }), 250);
    });
    ws.once('close', (closeCode, reason) => {
      clearTimeout(settle);
      resolve({ status: 101, closeCode, reason: String(reason), ...(code ? { code } : {}) });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(body || '{}').code }));
    });
    ws.once('error', () => {});
  });
}

/** Sends one JSON message and collects the replies for `ms`. */
async function exchange(ws: WebSocket, message: object, ms = 300): Promise<Record<string, unknown>[]> {
  const got: Record<string, unknown>[] = [];
  const on = (d: Buffer) => got.push(JSON.parse(String(d)));
  ws.on('message', on);
  ws.send(JSON.stringify(message));
  await new Promise((r) => setTimeout(r, ms));
  ws.off('message', on);
  return got;
}

describe('authentication and scopes', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  let ws: string;

  before(async () => {
    t = await startServer({ jwtSecret: SECRET, maxSessionsPerToken: 1, maxMessagesPerSecond: 5 });
    ws = t.url.replace('http', 'ws');
    // History in two rooms, straight onto the bus (no media needed to test who may read it).
    for (const [session, room] of [
      ['a1', 'A'],
      ['b1', 'B'],
    ] as const) {
      t.server.bus.publish({
        kind: 'session.started',
        sessionId: session,
        roomId: room,
        at: new Date().toISOString(),
      });
      t.server.bus.publish({
        kind: 'estimate',
        sessionId: session,
        roomId: room,
        estimate: fakeEstimate(session, room, 0),
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  });

  after(() => t?.stop());

  it('refuses requests without a valid token: missing, forged, expired, unknown scope', async () => {
    const forged = await new SignJWT({ scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('x'.repeat(40)));
    const expired = await new SignJWT({ scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(SECRET));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"scope":"admin"}').toString('base64url')}.`;
    for (const bad of [undefined, forged, expired, none, 'garbage']) {
      const r = await fetch(
        `${t.url}/v1/sessions`,
        bad ? { headers: { authorization: `Bearer ${bad}` } } : {},
      );
      assert.equal(r.status, 401);
      assert.equal(((await r.json()) as { code: string }).code, 'ERI_ERR_UNAUTHENTICATED');
      for (const path of ['/v1/stream', '/v1/signal', '/v1/ingest']) {
        const u = await upgrade(`${ws}${path}${bad ? `?access_token=${bad}` : ''}`);
        assert.equal(u.closeCode, 4401, `${path} with ${bad?.slice(0, 10)}: closed with 4401`);
        assert.ok(u.reason, 'with the reason');
        if (path !== '/v1/signal') assert.equal(u.code, 'ERI_ERR_UNAUTHENTICATED');
      }
    }
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200, 'health stays open');
  });

  it('REST: a room-A token lists, reads and finds only room A; deleting and /metrics take admin', async () => {
    const a = { authorization: `Bearer ${await token('subscribe:A')}` };
    const list = (await (await fetch(`${t.url}/v1/sessions`, { headers: a })).json()) as {
      sessions: { sessionId: string }[];
    };
    assert.deepEqual(
      list.sessions.map((s) => s.sessionId),
      ['a1'],
    );
    assert.equal((await fetch(`${t.url}/v1/sessions/a1/estimates`, { headers: a })).status, 200);
    for (const path of [
      '/v1/sessions/b1',
      '/v1/sessions/b1/estimates',
      '/v1/sessions/b1/final',
      '/v1/sessions/nope',
    ]) {
      const r = await fetch(`${t.url}${path}`, { headers: a });
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(await r.text(), /"B"|roomId/, 'a refusal tells nothing about room B');
    }
    assert.equal((await fetch(`${t.url}/v1/sessions/a1`, { method: 'DELETE', headers: a })).status, 403);
    assert.equal((await fetch(`${t.url}/metrics`, { headers: a })).status, 403);
    assert.equal((await fetch(`${t.url}/v1/placement`, { headers: a })).status, 403);
    const admin = { authorization: `Bearer ${await token('admin')}` };
    assert.equal((await fetch(`${t.url}/metrics`, { headers: admin })).status, 200);
    const publisher = { authorization: `Bearer ${await token('publish:A')}` };
    // Admitted: 200, or 503 when this machine is too loaded to take a publisher; never 401/403.
    assert.ok([200, 429].includes((await fetch(`${t.url}/v1/placement`, { headers: publisher })).status));
    assert.deepEqual(
      (
        (await (await fetch(`${t.url}/v1/sessions`, { headers: publisher })).json()) as {
          sessions: unknown[];
        }
      ).sessions,
      [],
    );
  });

  it('WebSockets: publish-only tokens cannot subscribe, subscribe-only tokens cannot publish', async () => {
    const pub = await token('publish:A');
    const sub = await token('subscribe:A');
    const stream = await upgrade(`${ws}/v1/stream?access_token=${pub}`);
    assert.deepEqual([stream.closeCode, stream.code], [4403, 'ERI_ERR_FORBIDDEN']);
    assert.match(stream.reason ?? '', /no subscribe scope/);
    assert.equal((await upgrade(`${ws}/v1/signal?access_token=${sub}`)).closeCode, 4403);
    assert.equal((await upgrade(`${ws}/v1/ingest?access_token=${sub}`)).code, 'ERI_ERR_FORBIDDEN');
  });

  it("/v1/stream: a room-A subscriber gets room A and a FORBIDDEN for B, B's sessions, unknown ones and all", async () => {
    const u = await upgrade(`${ws}/v1/stream?access_token=${await token('subscribe:A')}`);
    const s = u.ws as WebSocket;
    await new Promise((r) => setTimeout(r, 100)); // hello
    const refusals = [];
    for (const [id, target] of [
      [1, { roomId: 'B' }],
      [2, { sessionId: 'b1' }],
      [3, { sessionId: 'never-existed' }],
      [4, { all: true }],
    ] as const) {
      const replies = await exchange(s, { type: 'subscribe', id, target, resume: { b1: -1 } });
      const error = replies.find((m) => m.type === 'error');
      assert.equal(error?.code, 'ERI_ERR_FORBIDDEN', JSON.stringify(target));
      assert.ok(!replies.some((m) => m.type === 'estimate'), 'no replay outside the scope');
      refusals.push(error?.message);
    }
    assert.equal(new Set(refusals).size, 1, 'existing and absent targets get the same refusal');
    const ok = await exchange(s, {
      type: 'subscribe',
      id: 5,
      target: { roomId: 'A' },
      resume: { a1: -1, b1: -1 },
    });
    assert.ok(ok.some((m) => m.type === 'subscribed'));
    const replayed = ok
      .filter((m) => m.type === 'estimate')
      .map((m) => (m.data as { sessionId: string }).sessionId);
    assert.deepEqual(replayed, ['a1']);
    // Live: room B's estimates and aggregate never arrive.
    const live: Record<string, unknown>[] = [];
    s.on('message', (d) => live.push(JSON.parse(String(d))));
    t.server.bus.publish({
      kind: 'estimate',
      sessionId: 'b1',
      roomId: 'B',
      estimate: fakeEstimate('b1', 'B', 1),
    });
    t.server.bus.publish({
      kind: 'estimate',
      sessionId: 'a1',
      roomId: 'A',
      estimate: fakeEstimate('a1', 'A', 1),
    });
    await new Promise((r) => setTimeout(r, 1500));
    const rooms = new Set(
      live.filter((m) => m.type !== 'heartbeat').map((m) => (m.data as { roomId?: string })?.roomId),
    );
    assert.ok(rooms.has('A'));
    assert.ok(!rooms.has('B'), `leaked: ${JSON.stringify(live)}`);
    s.close();
  });

  it('publishing: the room and the session id the token names; sessions per token are limited', async () => {
    const pinned = await token('publish:A/s1');
    const signal = (await upgrade(`${ws}/v1/signal?access_token=${pinned}`)).ws as WebSocket;
    const [other] = await exchange(signal, {
      id: 1,
      method: 'join',
      params: { roomId: 'A', sessionId: 's2' },
    });
    assert.equal((other?.error as { code?: string } | undefined)?.code, 'ERI_ERR_FORBIDDEN');
    const [roomB] = await exchange(signal, { id: 2, method: 'join', params: { roomId: 'B' } });
    assert.equal((roomB?.error as { code?: string } | undefined)?.code, 'ERI_ERR_FORBIDDEN');
    const [joined] = await exchange(signal, { id: 3, method: 'join', params: { roomId: 'A' } }, 1000);
    assert.equal(
      (joined?.result as { sessionId?: string } | undefined)?.sessionId,
      's1',
      'the pinned session id',
    );
    // The same token's second live session (the limit is 1 here) is refused.
    const ingest = (await upgrade(`${ws}/v1/ingest?access_token=${pinned}`)).ws as WebSocket;
    const [second] = await exchange(ingest, { type: 'start', roomId: 'A' });
    assert.equal(second?.code, 'ERI_ERR_LIMIT');
    signal.close();
    ingest.close();
  });

  it('message rate per connection: the excess is refused with ERI_ERR_LIMIT and the connection lives', async () => {
    const s = (await upgrade(`${ws}/v1/stream?access_token=${await token('subscribe:A')}`)).ws as WebSocket;
    const replies: Record<string, unknown>[] = [];
    s.on('message', (d) => replies.push(JSON.parse(String(d))));
    for (let i = 0; i < 30; i++) s.send(JSON.stringify({ type: 'ping', id: i }));
    await new Promise((r) => setTimeout(r, 300));
    const pongs = replies.filter((m) => m.type === 'pong').length;
    const limited = replies.filter((m) => m.code === 'ERI_ERR_LIMIT').length;
    assert.ok(pongs >= 5 && pongs <= 12, `pongs ${pongs}`);
    assert.equal(pongs + limited, 30, 'every message answered or refused');
    assert.equal(s.readyState, WebSocket.OPEN);
    s.close();
  });

  it('ES256 tokens verify with the configured public key; --insecure-dev is refused in production', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const es = await startServer({
      jwtPublicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    try {
      const jwt = await new SignJWT({ scope: 'subscribe:*' })
        .setProtectedHeader({ alg: 'ES256' })
        .setExpirationTime('5m')
        .sign(privateKey);
      assert.equal(
        (await fetch(`${es.url}/v1/sessions`, { headers: { authorization: `Bearer ${jwt}` } })).status,
        200,
      );
      const hs = await token('subscribe:*');
      assert.equal(
        (await fetch(`${es.url}/v1/sessions`, { headers: { authorization: `Bearer ${hs}` } })).status,
        401,
      );
    } finally {
      await es.stop();
    }
    assert.throws(
      () => loadServerConfig({ NODE_ENV: 'production', ERI_INSECURE_DEV: '1' }),
      /refused when NODE_ENV=production/,
    );
    assert.throws(() => loadServerConfig({}), /no authentication configured/);
  });
});

describe('connections per client address', { skip: mediasoupSkip() }, () => {
  it('the connection past the limit is refused (closed with 4429, ERI_ERR_LIMIT); closing one frees a place', async () => {
    const t = await startServer({ maxConnectionsPerIp: 3 });
    try {
      const url = `${t.url.replace('http', 'ws')}/v1/stream`;
      const open = await Promise.all([upgrade(url), upgrade(url), upgrade(url)]);
      assert.deepEqual(
        open.map((o) => o.status),
        [101, 101, 101],
      );
      const refused = await upgrade(url);
      assert.deepEqual([refused.closeCode, refused.code], [4429, 'ERI_ERR_LIMIT']);
      open[0]?.ws?.close();
      await new Promise((r) => setTimeout(r, 200));
      const again = await upgrade(url);
      assert.equal(again.status, 101);
      for (const o of [...open, again]) o.ws?.close();
    } finally {
      await t.stop();
    }
  });
});
