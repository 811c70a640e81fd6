import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { createClient } from 'redis';
import { RedisBus } from '../../src/bus/redis-bus.js';
import { eventually, fakeEstimate } from '../helpers.js';
import { RedisServer, redisSkip } from '../redis-harness.js';

/**
 * Between Redis and the node, a relay that can lose a transaction's answer: it passes the EXEC on, so
 * Redis runs it, then cuts that connection before the reply comes back, as when Redis or the network
 * goes away at that moment. The node must not write the event a second time when it retries.
 */
class LosingRelay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Cut the next connection that sends an EXEC, after Redis has had time to run it. */
  armed = false;
  cuts = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(redisPort: number): Promise<LosingRelay> {
    const server = createServer();
    const relay = new LosingRelay(server);
    server.on('connection', (client) => relay.#relay(client, redisPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  #relay(client: Socket, redisPort: number): void {
    const upstream = connect(redisPort, '127.0.0.1');
    let losing = false;
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk) => {
      upstream.write(chunk);
      if (this.armed && chunk.includes('EXEC')) {
        this.armed = false;
        losing = true;
        this.cuts++;
        setTimeout(() => client.destroy(), 300);
      }
    });
    upstream.on('data', (chunk) => {
      if (!losing) client.write(chunk);
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise((r) => this.#server.close(r));
  }
}

const skip = redisSkip();
let redis: RedisServer | undefined;
let relay: LosingRelay | undefined;

before(async () => {
  if (skip) return;
  redis = await RedisServer.start();
  relay = await LosingRelay.start(redis.port);
});
after(async () => {
  await relay?.close();
  await redis?.destroy();
});

it('a write whose reply was lost is retried, but not written twice: each estimate once in the session history', {
  skip,
}, async () => {
  const server = relay as LosingRelay;
  const bus = await RedisBus.create({ url: server.url, nodeId: 'lost-reply' });
  const direct = createClient({ url: redis?.url });
  await direct.connect();
  try {
    const estimate = (seq: number) => ({
      kind: 'estimate' as const,
      sessionId: 's',
      roomId: 'r',
      estimate: fakeEstimate('s', 'r', seq),
    });
    bus.publish(estimate(0));
    assert.ok(await eventually(() => bus.stats.written === 1, 5000), 'the first write');
    server.armed = true;
    bus.publish(estimate(1));
    bus.publish(estimate(2));
    assert.ok(await eventually(() => bus.stats.written === 3, 10_000), `written ${bus.stats.written}`);
    assert.equal(server.cuts, 1, 'one reply was lost');
    const seqs = (await direct.xRange('eri:stream:s', '-', '+')).map(
      (entry) => (JSON.parse(entry.message.e as string) as { estimate: { seq: number } }).estimate.seq,
    );
    assert.deepEqual(seqs, [0, 1, 2]);
  } finally {
    await bus.close();
    await direct.quit();
  }
});
