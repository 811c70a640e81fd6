import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type Bus, MemoryBus } from '../../src/bus/memory-bus.js';
import { RedisBus } from '../../src/bus/redis-bus.js';
import { fakeEstimate } from '../helpers.js';
import { RedisServer, redisSkip } from '../redis-harness.js';

/** History read for some rooms returns their sessions only, with their estimates, on both buses. */

async function roomsOnly(bus: Bus): Promise<void> {
  const at = new Date().toISOString();
  for (const [sessionId, roomId] of [
    ['a1', 'a'],
    ['a2', 'a'],
    ['b1', 'b'],
    ['c1', 'c'],
  ] as const) {
    bus.publish({ kind: 'session.started', sessionId, roomId, at });
    for (let seq = 0; seq < 3; seq++)
      bus.publish({ kind: 'estimate', sessionId, roomId, estimate: fakeEstimate(sessionId, roomId, seq) });
  }
  await bus.flush(5000);
  const ids = async (rooms?: string[]) =>
    (await bus.sessions(rooms ? { rooms } : {})).map((r) => r.sessionId).sort();
  assert.deepEqual(await ids(), ['a1', 'a2', 'b1', 'c1']);
  assert.deepEqual(await ids(['a', 'c']), ['a1', 'a2', 'c1']);
  assert.deepEqual(await ids(['nowhere']), []);
  const [b1] = await bus.sessions({ rooms: ['b'] });
  assert.deepEqual(
    b1?.estimates.map((e) => e.seq),
    [0, 1, 2],
  );
}

it('memory bus: sessions of some rooms only', async () => {
  const bus = new MemoryBus();
  await roomsOnly(bus);
  await bus.close();
});

let redis: RedisServer | undefined;
before(async () => {
  if (!redisSkip()) redis = await RedisServer.start();
});
after(() => redis?.stop());

it('redis bus: sessions of some rooms only', { skip: redisSkip() }, async () => {
  const bus = await RedisBus.create({ url: redis?.url ?? '', nodeId: 'history-rooms' });
  await roomsOnly(bus);
  await bus.close();
});
