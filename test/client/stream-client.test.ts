import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { firstValueFrom, type Subscription } from 'rxjs';
import WebSocket, { WebSocketServer } from 'ws';
import {
  type ConnectionState,
  EriClientError,
  EriStreamClient,
  type WebSocketConstructor,
} from '../../packages/client/src/index.js';
import { mintToken } from '../../src/cli/token.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/** The stream client against a real server: lazy connection, its states, tokens, refusals, validation. */

const SECRET = 'test-secret-of-at-least-32-characters!!';
const token = (scope: string, ttlSeconds = 600) =>
  mintToken({ secret: SECRET, scope, ttlSeconds, subject: 't' });
const Ws = WebSocket as unknown as WebSocketConstructor;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

describe('stream client', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  before(async () => {
    t = await startServer({ jwtSecret: SECRET });
  });
  after(async () => {
    await t?.stop();
  });

  it('connects on the first subscription, asks the token provider on every connect, and disconnects after the last', async () => {
    let asked = 0;
    const client = new EriStreamClient(t.url, {
      WebSocket: Ws,
      token: async () => {
        asked++;
        return token('subscribe:lobby');
      },
    });
    const states: ConnectionState['status'][] = [];
    client.state$.subscribe((s) => states.push(s.status));
    await sleep(200);
    assert.equal(t.server.subscribers.size, 0, 'nothing connects before a subscription');
    assert.equal(asked, 0);
    const sub: Subscription = client.events({ roomId: 'lobby' }).subscribe();
    const hello = await firstValueFrom(client.hello$);
    assert.deepEqual(hello.emotions.length, 7);
    await until(() => client.state.status === 'open');
    client.reconnect();
    await until(() => client.reconnects === 1 && client.state.status === 'open');
    assert.equal(asked, 2, 'a fresh token for the reconnect');
    sub.unsubscribe();
    await until(() => t.server.subscribers.size === 0);
    assert.equal(client.state.status, 'idle');
    assert.deepEqual(states.slice(0, 3), ['idle', 'connecting', 'open']);
    assert.ok(states.includes('reconnecting'));
    client.close();
  });

  it('a refused token is final: the subscription errors with the code and reason, and nothing retries', async () => {
    for (const [bad, code, closeCode] of [
      [await token('subscribe:lobby', -10), 'ERI_ERR_UNAUTHENTICATED', 4401],
      [await token('publish:lobby'), 'ERI_ERR_FORBIDDEN', 4403],
    ] as const) {
      const client = new EriStreamClient(t.url, { WebSocket: Ws, token: bad, initialDelayMs: 10 });
      const error = await new Promise<unknown>((resolve) =>
        client.events({ roomId: 'lobby' }).subscribe({ error: resolve }),
      );
      assert.ok(error instanceof EriClientError);
      assert.equal(error.code, code);
      assert.equal(error.closeCode, closeCode);
      assert.ok(error.message.length > 0);
      await sleep(300);
      assert.equal(client.state.status, 'failed');
      assert.equal(client.state.attempt, 1, 'one attempt, no retries');
      client.close();
    }
  });

  it('an unreachable server is retried with backoff, and the state says why', async () => {
    const client = new EriStreamClient('http://127.0.0.1:1', {
      WebSocket: Ws,
      initialDelayMs: 20,
      maxDelayMs: 40,
    });
    const sub = client.events({ all: true }).subscribe();
    await until(() => client.state.attempt >= 3);
    assert.equal(client.state.status, 'reconnecting');
    assert.equal(client.state.error?.code, 'ERI_ERR_CONNECTION');
    sub.unsubscribe();
    client.close();
  });
});

describe('stream client validation', () => {
  it('a message that breaks the protocol fails the subscriptions with ERI_ERR_MALFORMED_MESSAGE; unknown types are ignored', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', (ws) => {
      ws.send(
        JSON.stringify({
          type: 'hello',
          protocol: 1,
          model: { name: 'm', version: '1', trained: true, proxy: false, card: '/model' },
          emotions: ['a'],
          heartbeatMs: 1000,
        }),
      );
      ws.on('message', () => {
        ws.send(JSON.stringify({ type: 'from-the-future', x: 1 }));
        ws.send(JSON.stringify({ type: 'estimate', data: { sessionId: 's', seq: 'one' } }));
      });
    });
    await new Promise((r) => wss.once('listening', r));
    const { port } = wss.address() as { port: number };
    const client = new EriStreamClient(`http://127.0.0.1:${port}`, { WebSocket: Ws });
    const error = await new Promise<unknown>((resolve) =>
      client.events({ all: true }).subscribe({ error: resolve }),
    );
    assert.ok(error instanceof EriClientError);
    assert.equal(error.code, 'ERI_ERR_MALFORMED_MESSAGE');
    assert.match(error.message, /invalid 'estimate' message/);
    client.close();
    wss.close();
  });
});
