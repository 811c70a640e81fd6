import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { firstValueFrom, take, toArray } from 'rxjs';
import WebSocket, { WebSocketServer } from 'ws';
import { EriStreamClient } from '../../packages/client/src/index.js';
import { LocalBus } from '../../src/bus/local-bus.js';
import { EMOTIONS } from '../../src/contracts/emotions.js';
import { type Estimate, estimateSchema } from '../../src/contracts/estimate.js';
import { MemoryHistory } from '../../src/history/memory-history.js';
import { INSECURE_DEV_PRINCIPAL } from '../../src/server/auth.js';
import { applyHttpConventions } from '../../src/server/http-conventions.js';
import { registerRestRoutes } from '../../src/server/rest.js';
import { SubscriberConnection } from '../../src/server/stream.js';
import type { SessionRegistry } from '../../src/sessions/registry.js';
import { fakeEstimate } from '../helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const estimate = fakeEstimate;

/** A bus and /v1/stream on a bare ws server: the subscriber protocol without media. */
async function streamServer(bus: LocalBus, o: { highWaterBytes?: number; slowGraceMs?: number } = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => {
    new SubscriberConnection(ws, {
      bus,
      model: { name: 'm', version: '1', trained: false, proxy: false, card: '/model' },
      heartbeatMs: 60_000,
      maxMessageBytes: 64 * 1024,
      highWaterBytes: o.highWaterBytes ?? 1024 * 1024,
      slowGraceMs: o.slowGraceMs ?? 10_000,
    });
  });
  return {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    close: () => new Promise((r) => wss.close(r)),
  };
}

async function raw(url: string): Promise<{ ws: WebSocket; messages: Record<string, unknown>[] }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream`);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d))));
  await new Promise((r) => ws.once('open', r));
  return { ws, messages };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}

describe('subscriber protocol (/v1/stream)', () => {
  let bus: LocalBus;
  let server: Awaited<ReturnType<typeof streamServer>>;

  before(async () => {
    bus = new LocalBus(new MemoryHistory({ maxEstimatesPerSession: 50 }));
    server = await streamServer(bus);
  });
  after(() => server.close());

  it('hello, then subscribe to a session, a room or everything, and unsubscribe', async () => {
    const { ws, messages } = await raw(server.url);
    await until(() => messages.length >= 1);
    assert.equal(messages[0]?.type, 'hello');
    assert.deepEqual(messages[0]?.emotions, [...EMOTIONS]);
    ws.send(JSON.stringify({ type: 'subscribe', id: 1, target: { roomId: 'A' } }));
    await until(() => messages.some((m) => m.type === 'subscribed'));
    bus.publish({ kind: 'session.started', sessionId: 'a1', roomId: 'A', at: 'now' });
    bus.publish({ kind: 'estimate', sessionId: 'a1', roomId: 'A', estimate: estimate('a1', 'A', 0) });
    bus.publish({ kind: 'estimate', sessionId: 'b1', roomId: 'B', estimate: estimate('b1', 'B', 0) });
    await until(() => messages.filter((m) => m.type === 'estimate').length >= 1);
    await sleep(50);
    const estimates = messages.filter((m) => m.type === 'estimate') as { data: Estimate }[];
    assert.deepEqual(
      estimates.map((m) => m.data.sessionId),
      ['a1'],
      'only the room subscribed to',
    );
    estimateSchema.parse(estimates[0]?.data);
    const sub = messages.find((m) => m.type === 'subscribed') as { subscription: string };
    ws.send(JSON.stringify({ type: 'unsubscribe', id: 2, subscription: sub.subscription }));
    await until(() => messages.some((m) => m.type === 'unsubscribed'));
    bus.publish({ kind: 'estimate', sessionId: 'a1', roomId: 'A', estimate: estimate('a1', 'A', 1) });
    await sleep(50);
    assert.equal(messages.filter((m) => m.type === 'estimate').length, 1, 'nothing after unsubscribe');
    ws.close();
  });

  it('malformed and unknown messages get typed errors and the connection stays', async () => {
    const { ws, messages } = await raw(server.url);
    for (const m of [
      'nope',
      '{}',
      '{"type":"dance","id":3}',
      '{"type":"subscribe","id":4,"target":{"roomId":"a b"}}',
      '{"type":"unsubscribe","id":5,"subscription":"x"}',
    ])
      ws.send(m);
    ws.send(Buffer.from([1, 2, 3]));
    await until(() => messages.filter((m) => m.type === 'error').length >= 6);
    const codes = messages.filter((m) => m.type === 'error').map((m) => m.code);
    assert.deepEqual(codes, [
      'ERI_ERR_MALFORMED_MESSAGE',
      'ERI_ERR_MALFORMED_MESSAGE',
      'ERI_ERR_UNKNOWN_METHOD',
      'ERI_ERR_MALFORMED_MESSAGE',
      'ERI_ERR_NOT_FOUND',
      'ERI_ERR_MALFORMED_MESSAGE',
    ]);
    assert.equal(ws.readyState, ws.OPEN);
    ws.close();
  });

  it('resume replays what was missed, then live, without gap or duplicate', async () => {
    for (let seq = 0; seq < 10; seq++)
      bus.publish({ kind: 'estimate', sessionId: 'r1', roomId: 'R', estimate: estimate('r1', 'R', seq) });
    const { ws, messages } = await raw(server.url);
    ws.send(JSON.stringify({ type: 'subscribe', id: 1, target: { sessionId: 'r1' }, resume: { r1: 6 } }));
    await until(() => messages.filter((m) => m.type === 'estimate').length >= 3);
    bus.publish({ kind: 'estimate', sessionId: 'r1', roomId: 'R', estimate: estimate('r1', 'R', 10) });
    await until(() => messages.filter((m) => m.type === 'estimate').length >= 4);
    const seqs = messages.filter((m) => m.type === 'estimate').map((m) => (m as { data: Estimate }).data.seq);
    assert.deepEqual(seqs, [7, 8, 9, 10]);
    assert.equal((messages.find((m) => m.type === 'subscribed') as { replayed: number }).replayed, 3);
    ws.close();
  });

  it('a room resume also replays the sessions that started in the room while the subscriber was away', async () => {
    const at = () => new Date().toISOString();
    const publish = (sessionId: string, seqs: number[], ended: boolean) => {
      bus.publish({ kind: 'session.started', sessionId, roomId: 'RR', at: at() });
      for (const seq of seqs)
        bus.publish({ kind: 'estimate', sessionId, roomId: 'RR', estimate: estimate(sessionId, 'RR', seq) });
      if (ended) bus.publish({ kind: 'session.ended', sessionId, roomId: 'RR', at: at(), reason: 'normal' });
    };
    publish('gone-before', [0], true); // over before the subscriber left: not replayed
    await sleep(5);
    publish('known', [0, 1, 2], false); // it saw up to seq 2, then left
    await sleep(5);
    publish('new-live', [0, 1], false);
    await sleep(5);
    publish('new-ended', [0], true);
    const { ws, messages } = await raw(server.url);
    ws.send(JSON.stringify({ type: 'subscribe', id: 3, target: { roomId: 'RR' }, resume: { known: 2 } }));
    await until(() => messages.some((m) => m.type === 'session.ended'));
    const seen = messages
      .filter((m) => m.type !== 'hello' && m.type !== 'subscribed')
      .map((m) => {
        const d = m.data as { sessionId: string; seq?: number };
        return m.type === 'estimate' ? `${d.sessionId}#${d.seq}` : `${m.type} ${d.sessionId}`;
      });
    assert.deepEqual(seen, [
      'session.started new-live',
      'new-live#0',
      'new-live#1',
      'session.started new-ended',
      'new-ended#0',
      'session.ended new-ended',
    ]);
    assert.equal((messages.find((m) => m.type === 'subscribed') as { replayed: number }).replayed, 3);
    ws.close();
  });

  it('a resume from before the history boundary is a clear error, not silent loss', async () => {
    for (let seq = 0; seq < 80; seq++)
      bus.publish({ kind: 'estimate', sessionId: 'old', roomId: 'R', estimate: estimate('old', 'R', seq) });
    const { ws, messages } = await raw(server.url);
    ws.send(JSON.stringify({ type: 'subscribe', id: 9, target: { sessionId: 'old' }, resume: { old: 3 } }));
    await until(() => messages.some((m) => m.type === 'error'));
    const error = messages.find((m) => m.type === 'error') as {
      id: number;
      code: string;
      firstAvailableSeq: number;
      message: string;
    };
    assert.equal(error.id, 9);
    assert.equal(error.code, 'ERI_ERR_HISTORY_GONE');
    assert.equal(error.firstAvailableSeq, 30);
    assert.match(error.message, /resume from 29/);
    ws.close();
  });

  it('the SDK resumes across a forced reconnect while estimates flow: no gap, no duplicate', async () => {
    const client = new EriStreamClient(server.url, { initialDelayMs: 20 });
    const all = firstValueFrom(
      client.estimates({ sessionId: 'flow' }, { fromStart: true }).pipe(take(300), toArray()),
    );
    let seq = 0;
    const producer = setInterval(() => {
      for (let i = 0; i < 3 && seq < 300; i++)
        bus.publish({
          kind: 'estimate',
          sessionId: 'flow',
          roomId: 'F',
          estimate: estimate('flow', 'F', seq++),
        });
    }, 2);
    await until(() => seq > 60);
    client.reconnect();
    await until(() => seq > 150);
    client.reconnect();
    const got = await all;
    clearInterval(producer);
    assert.deepEqual(
      got.map((e) => e.seq),
      Array.from({ length: 300 }, (_, i) => i),
    );
    assert.ok(client.reconnects >= 2);
    client.close();
  });

  it("a congested subscriber gets a session's final estimate before its session.ended", async () => {
    const busy = new LocalBus(new MemoryHistory({ maxEstimatesPerSession: 10 }));
    const s = await streamServer(busy, { highWaterBytes: 64 * 1024, slowGraceMs: 60_000 });
    try {
      const c = await raw(s.url);
      c.ws.send(JSON.stringify({ type: 'subscribe', id: 1, target: { all: true } }));
      await until(() => c.messages.some((m) => m.type === 'subscribed'));
      const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      socket.pause();
      // Enough to fill the kernel's buffers and the high-water mark: the connection is congested.
      for (let seq = 0; seq < 20_000; seq++)
        busy.publish({
          kind: 'estimate',
          sessionId: `b${seq % 4}`,
          roomId: 'X',
          estimate: estimate(`b${seq % 4}`, 'X', seq),
        });
      busy.publish({ kind: 'estimate', sessionId: 'f1', roomId: 'X', estimate: estimate('f1', 'X', 0) });
      busy.publish({
        kind: 'estimate',
        sessionId: 'f1',
        roomId: 'X',
        estimate: estimate('f1', 'X', 1, true),
      });
      busy.publish({
        kind: 'session.ended',
        sessionId: 'f1',
        roomId: 'X',
        at: new Date().toISOString(),
        reason: 'normal',
      });
      socket.resume();
      const isEnd = (m: Record<string, unknown>) =>
        m.type === 'session.ended' && (m.data as { sessionId: string }).sessionId === 'f1';
      await until(() => c.messages.some(isEnd), 20_000);
      const final = c.messages.findIndex(
        (m) => m.type === 'estimate' && (m.data as Estimate).sessionId === 'f1' && (m.data as Estimate).final,
      );
      assert.ok(final >= 0, 'the final estimate arrived');
      assert.ok(final < c.messages.findIndex(isEnd), 'before session.ended');
      const delivered = c.messages.filter((m) => m.type === 'estimate').length;
      assert.ok(
        delivered < 20_000,
        `the connection was congested: estimates coalesced (${delivered} delivered)`,
      );
      c.ws.close();
    } finally {
      await s.close();
    }
  });

  it('a subscriber that stops reading: estimates coalesce, then it is disconnected with a reason; others are unaffected', async () => {
    const slowBus = new LocalBus(new MemoryHistory());
    const s = await streamServer(slowBus, { highWaterBytes: 64 * 1024, slowGraceMs: 300 });
    try {
      const slow = await raw(s.url);
      const healthy = await raw(s.url);
      for (const c of [slow, healthy])
        c.ws.send(JSON.stringify({ type: 'subscribe', id: 1, target: { all: true } }));
      await until(
        () =>
          slow.messages.some((m) => m.type === 'subscribed') &&
          healthy.messages.some((m) => m.type === 'subscribed'),
      );
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const closed = new Promise<number>((r) => slow.ws.once('close', (code) => r(code)));
      let seq = 0;
      const big = () => estimate(`s${seq % 5}`, 'X', Math.floor(seq / 5));
      const deadline = Date.now() + 8000;
      let code: number | undefined;
      closed.then((c) => {
        code = c;
      });
      while (code === undefined && Date.now() < deadline) {
        for (let i = 0; i < 200; i++, seq++)
          slowBus.publish({ kind: 'estimate', sessionId: `s${seq % 5}`, roomId: 'X', estimate: big() });
        await sleep(5);
        (slow.ws as unknown as { _socket: { resume(): void; pause(): void } })._socket.resume();
        (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      }
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      assert.equal(await closed, 4008);
      await until(() => slow.messages.some((m) => m.code === 'ERI_ERR_SLOW_CONSUMER'));
      const healthyCount = healthy.messages.filter((m) => m.type === 'estimate').length;
      assert.ok(healthyCount > 1000, `the healthy subscriber kept receiving (${healthyCount})`);
      healthy.ws.close();
    } finally {
      await s.close();
    }
  });
});

describe('history over REST', () => {
  it('lists sessions a page at a time, serves a time series as JSON and CSV, the final estimate, markers, and deletes', async () => {
    const bus = new LocalBus(new MemoryHistory());
    bus.publish({ kind: 'session.started', sessionId: 'h1', roomId: 'H', at: '2026-01-01T00:00:00Z' });
    for (let seq = 0; seq < 5; seq++)
      bus.publish({
        kind: 'estimate',
        sessionId: 'h1',
        roomId: 'H',
        estimate: estimate('h1', 'H', seq, seq === 4),
      });
    bus.publish({
      kind: 'session.ended',
      sessionId: 'h1',
      roomId: 'H',
      at: '2026-01-01T00:00:05Z',
      reason: 'normal',
    });
    const http = Fastify();
    // As the server does: zod schemas, and errors as {code, message} with the table's status.
    applyHttpConventions(http);
    registerRestRoutes(http, {
      bus,
      registry: { get: () => undefined } as unknown as SessionRegistry,
      principal: () => INSECURE_DEV_PRINCIPAL,
    });
    bus.publish({
      kind: 'session.started',
      sessionId: 'h2',
      roomId: 'H',
      at: '2026-01-01T00:00:09Z',
      studyId: 'st-1',
    });
    bus.recordMarker('h2', { event: 'play', position: 0, mediaTime: 1 });
    const list = (await http.inject('/v1/sessions?room=H')).json();
    assert.deepEqual(
      list.sessions.map((s: { sessionId: string }) => s.sessionId),
      ['h2', 'h1'],
    );
    assert.equal(list.sessions[1].estimates, 5);
    assert.equal(list.nextCursor, null);
    const first = (await http.inject('/v1/sessions?limit=1')).json();
    assert.deepEqual([first.sessions[0].sessionId, first.sessions[0].studyId], ['h2', 'st-1']);
    const next = (await http.inject(`/v1/sessions?limit=1&cursor=${first.nextCursor}`)).json();
    assert.deepEqual([next.sessions[0].sessionId, next.nextCursor], ['h1', null]);
    for (const bad of ['limit=0', 'limit=x', 'limit=5000', 'cursor=zzz'])
      assert.equal((await http.inject(`/v1/sessions?${bad}`)).json().code, 'ERI_ERR_INVALID_ARGUMENT', bad);
    assert.deepEqual((await http.inject('/v1/sessions/h2/markers')).json(), {
      sessionId: 'h2',
      studyId: 'st-1',
      markers: [{ event: 'play', position: 0, mediaTime: 1 }],
    });
    const series = (await http.inject('/v1/sessions/h1/estimates?from=1')).json();
    assert.deepEqual(
      series.estimates.map((e: Estimate) => e.seq),
      [2, 3, 4],
    );
    const csv = await http.inject('/v1/sessions/h1/estimates?format=csv');
    assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8');
    assert.equal(csv.body.trim().split('\n').length, 6);
    assert.match(
      csv.body.split('\n')[0] as string,
      /^seq,final,window_start_s,window_end_s,wall_time,Adoration,/,
    );
    assert.equal((await http.inject('/v1/sessions/h1/final')).json().seq, 4);
    assert.equal((await http.inject('/v1/sessions/nope/final')).statusCode, 404);
    assert.equal(
      (await http.inject('/v1/sessions/h1/estimates?format=xml')).json().code,
      'ERI_ERR_INVALID_ARGUMENT',
    );
    assert.equal((await http.inject({ method: 'DELETE', url: '/v1/sessions/h1' })).statusCode, 204);
    assert.equal((await http.inject('/v1/sessions/h1')).statusCode, 404);
    await http.close();
  });
});
