import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { mintToken } from '../../src/cli/token.js';
import { SignalClient } from '../../src/client/signal-client.js';
import type { JoinResult } from '../../src/contracts/signalling.js';
import { ERROR_CODES } from '../../src/errors.js';
import { SeededRandom } from '../../src/model/init.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/** Sends raw messages and collects every reply, in order. */
async function rawSession(
  url: string,
  messages: (string | Buffer)[],
): Promise<{ replies: unknown[]; open: boolean }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/signal`);
  await new Promise((r) => ws.once('open', r));
  const replies: unknown[] = [];
  ws.on('message', (d) => replies.push(JSON.parse(String(d))));
  for (const m of messages) ws.send(m);
  const deadline = Date.now() + 10_000;
  while (replies.length < messages.length && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  const open = ws.readyState === ws.OPEN;
  ws.close();
  return { replies, open };
}

function fuzzMessages(n: number): (string | Buffer)[] {
  const rng = new SeededRandom(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(rng.uniform(0, xs.length))] as T;
  const garbage = () =>
    Buffer.from(
      Array.from({ length: Math.floor(rng.uniform(1, 300)) }, () => Math.floor(rng.uniform(0, 256))),
    );
  const makers: (() => string | Buffer)[] = [
    () => garbage(),
    () => garbage().toString('latin1'),
    () => '{"id":',
    () => JSON.stringify({ id: -1, method: 'join', params: { roomId: 'r' } }),
    () => JSON.stringify({ id: 1.5, method: 'join' }),
    () => JSON.stringify({ id: 7, method: pick(['nope', '__proto__', 'constructor', 'x'.repeat(500), '']) }),
    () =>
      JSON.stringify({
        id: 8,
        method: 'join',
        params: { roomId: pick(['', 'a b', '../etc', 'x'.repeat(100), 5, null]) },
      }),
    () =>
      JSON.stringify({
        id: 9,
        method: 'produce',
        params: { transportId: 'nope', kind: 'video', rtpParameters: {} },
      }),
    () =>
      JSON.stringify({
        id: 10,
        method: 'connectWebRtcTransport',
        params: { transportId: 'x', dtlsParameters: 'no' },
      }),
    () => JSON.stringify({ id: 11, method: 'join', params: { roomId: 'r', extra: true } }),
    () => JSON.stringify([1, 2, 3]),
    () => JSON.stringify(null),
    () => JSON.stringify({ id: 12, method: 'leave', params: [] }),
    () => `{"id":13,"method":"join","params":{"roomId":"${'y'.repeat(300 * 1024)}"}}`, // oversized
  ];
  return Array.from({ length: n }, () => pick(makers)());
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('signalling', { skip: mediasoupSkip() }, () => {
  let t: TestServer;

  before(async () => {
    t = await startServer();
  });
  after(() => t?.stop());

  it('join gives the router capabilities; produce before join and a second join are typed errors', async () => {
    const c = await SignalClient.connect(t.url);
    await assert.rejects(c.request('createWebRtcTransport'), { code: 'ERI_ERR_INVALID_STATE' });
    const joined = await c.request<JoinResult>('join', { roomId: 'room-1', sessionId: 'sig-1' });
    assert.equal(joined.sessionId, 'sig-1');
    assert.ok((joined.routerRtpCapabilities as { codecs: unknown[] }).codecs.length >= 3);
    await assert.rejects(c.request('join', { roomId: 'room-1' }), { code: 'ERI_ERR_INVALID_STATE' });
    const transport = await c.request<{ id: string; iceCandidates: { address: string }[] }>(
      'createWebRtcTransport',
    );
    assert.ok(transport.iceCandidates.every((x) => x.address === '127.0.0.1'));
    await assert.rejects(
      c.request('produce', { transportId: transport.id, kind: 'video', rtpParameters: { codecs: 'no' } }),
      { code: 'ERI_ERR_MALFORMED_MESSAGE' },
    );
    await assert.rejects(c.request('pauseProducer', { producerId: 'missing' }), {
      code: 'ERI_ERR_NOT_FOUND',
    });
    const second = await SignalClient.connect(t.url);
    await assert.rejects(second.request('join', { roomId: 'room-1', sessionId: 'sig-1' }), {
      code: 'ERI_ERR_INVALID_STATE',
      message: /already live/,
    });
    second.close();
    await c.request('leave');
    c.close();
  });

  it('200 malformed, unknown and oversized messages: each gets a typed error, the server and other sessions carry on', async () => {
    const bystander = await SignalClient.connect(t.url);
    await bystander.request<JoinResult>('join', { roomId: 'calm', sessionId: 'bystander' });
    const { replies, open } = await rawSession(t.url, fuzzMessages(200));
    assert.equal(replies.length, 200, 'one reply per message');
    assert.ok(open, 'the fuzzing connection itself stays open');
    for (const r of replies as { ok: boolean; error?: { code: string; message: string } }[]) {
      assert.equal(r.ok, false);
      assert.ok(r.error && r.error.code in ERROR_CODES, `typed: ${JSON.stringify(r).slice(0, 200)}`);
      assert.ok(r.error.message.length > 0);
    }
    const codes = new Set((replies as { error: { code: string } }[]).map((r) => r.error.code));
    for (const code of ['ERI_ERR_MALFORMED_MESSAGE', 'ERI_ERR_UNKNOWN_METHOD', 'ERI_ERR_LIMIT'])
      assert.ok(codes.has(code), `saw ${code}`);
    // The bystander's session is untouched and the server still serves.
    assert.equal(t.server.registry.get('bystander')?.state, 'running');
    await bystander.request('createWebRtcTransport');
    const health = await fetch(`${t.url}/healthz`);
    assert.equal(health.status, 200);
    bystander.close();
  });

  it('a closed connection ends its session as client-gone', async () => {
    const c = await SignalClient.connect(t.url);
    await c.request<JoinResult>('join', { roomId: 'r2', sessionId: 'gone-1' });
    const session = t.server.registry.get('gone-1');
    assert.ok(session);
    const ended = new Promise<string>((resolve) => {
      session.events$.subscribe((e) => {
        if (e.type === 'session.ended') resolve(e.reason);
      });
    });
    c.close();
    assert.equal(await ended, 'client-gone');
  });

  it('two joins sent together: one joins, the other is refused, and closing leaves no live session', async () => {
    const c = await SignalClient.connect(t.url);
    const results = await Promise.allSettled([
      c.request<JoinResult>('join', { roomId: 'twice', sessionId: 'twice-1' }),
      c.request<JoinResult>('join', { roomId: 'twice', sessionId: 'twice-2' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((refused.reason as { code?: string }).code, 'ERI_ERR_INVALID_STATE');
    c.close();
    const deadline = Date.now() + 5000;
    const live = () => ['twice-1', 'twice-2'].filter((id) => t.server.registry.get(id)?.state === 'running');
    while (live().length > 0 && Date.now() < deadline) await sleep(50);
    assert.deepEqual(live(), []);
  });

  it('transports per connection are bounded, also when requested all at once', async () => {
    const rooms = t.server.rooms.size;
    const c = await SignalClient.connect(t.url);
    await c.request<JoinResult>('join', { roomId: 'ports', sessionId: 'ports-1' });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => c.request('createWebRtcTransport')),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    assert.equal(ok, 4);
    for (const r of results) {
      if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'ERI_ERR_LIMIT');
    }
    const other = await SignalClient.connect(t.url);
    await other.request<JoinResult>('join', { roomId: 'ports', sessionId: 'ports-2' });
    await other.request('createWebRtcTransport');
    c.close();
    other.close();
    const deadline = Date.now() + 5000;
    while (t.server.rooms.size > rooms && Date.now() < deadline) await sleep(50);
  });

  it("a room's router closes when its last publisher leaves, and /metrics counts rooms", async () => {
    const before = t.server.rooms.size;
    const a = await SignalClient.connect(t.url);
    const b = await SignalClient.connect(t.url);
    await a.request<JoinResult>('join', { roomId: 'emptied', sessionId: 'leave-a' });
    await b.request<JoinResult>('join', { roomId: 'emptied', sessionId: 'leave-b' });
    assert.equal(t.server.rooms.size, before + 1);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^eri_rooms \d+$/m);
    a.close();
    await sleep(300);
    assert.equal(t.server.rooms.size, before + 1, 'one publisher is still in it');
    b.close();
    const deadline = Date.now() + 5000;
    while (t.server.rooms.size > before && Date.now() < deadline) await sleep(50);
    assert.equal(t.server.rooms.size, before, 'the emptied room closed');
  });
});

describe('a publisher that vanishes without closing', { skip: mediasoupSkip() }, () => {
  it('is ended after the heartbeat timeout', async () => {
    const t = await startServer({ publisherTimeoutMs: 600 });
    try {
      const ws = new WebSocket(`${t.url.replace('http', 'ws')}/v1/signal`);
      await new Promise((r) => ws.once('open', r));
      const joined = new Promise((r) => ws.once('message', r));
      ws.send(JSON.stringify({ id: 1, method: 'join', params: { roomId: 'r', sessionId: 'ghost' } }));
      await joined;
      const session = t.server.registry.get('ghost');
      assert.ok(session);
      const ended = new Promise<string>((resolve) => {
        session.events$.subscribe((e) => {
          if (e.type === 'session.ended') resolve(e.reason);
        });
      });
      // Stop reading the socket, so no ping is answered, as with a peer that vanished: the TCP
      // connection stays half-open and no close ever arrives.
      const started = Date.now();
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      assert.equal(await ended, 'client-gone');
      assert.ok(Date.now() - started < 5000, 'within a few heartbeats');
      ws.terminate();
    } finally {
      await t.stop();
    }
  });
});

describe('a closed signalling connection frees every slot it held', { skip: mediasoupSkip() }, () => {
  const SECRET = 'slots-secret-of-at-least-32-characters!!';
  let t: TestServer;

  before(async () => {
    // One session per token and 4 ports in all (4 WebRTC transports take them all; UDP and TCP share a
    // number, and 3 ports fail round 0): a round can only follow the previous one if that one gave back
    // its session slot, its room and its ports.
    t = await startServer({
      jwtSecret: SECRET,
      maxSessionsPerToken: 1,
      rtc: { listenIp: '127.0.0.1', minPort: 39_000, maxPort: 39_003 },
    });
  });
  after(() => t?.stop());

  it('three rounds of join, four transports and close, with one token, one session slot and 4 ports', async () => {
    const token = await mintToken({ secret: SECRET, scope: 'publish:slots', ttlSeconds: 600 });
    const rooms = t.server.rooms.size;
    for (let round = 0; round < 3; round++) {
      const c = await SignalClient.connect(t.url, token);
      await c.request<JoinResult>('join', { roomId: 'slots', sessionId: `slot-${round}` });
      for (let i = 0; i < 4; i++) await c.request('createWebRtcTransport');
      assert.equal(t.server.registry.size, 1, `round ${round}: one live session`);
      // The token's one session is taken: a second connection is refused while this one lives.
      const other = await SignalClient.connect(t.url, token);
      await assert.rejects(other.request('join', { roomId: 'slots', sessionId: `other-${round}` }), {
        code: 'ERI_ERR_LIMIT',
      });
      other.close();
      c.close();
      const deadline = Date.now() + 10_000;
      while ((t.server.registry.size > 0 || t.server.rooms.size > rooms) && Date.now() < deadline)
        await sleep(50);
      assert.equal(t.server.registry.size, 0, `round ${round}: the session ended`);
      assert.equal(t.server.rooms.size, rooms, `round ${round}: the room closed`);
    }
  });
});
