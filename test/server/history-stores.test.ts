import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Bus } from '../../src/bus/bus.js';
import { LocalBus } from '../../src/bus/local-bus.js';
import { RedisBus } from '../../src/bus/redis-bus.js';
import type { HistoryOptions } from '../../src/history/history-store.js';
import { MemoryHistory } from '../../src/history/memory-history.js';
import { SqliteHistory } from '../../src/history/sqlite-history.js';
import { fakeEstimate } from '../helpers.js';
import { RedisServer, redisSkip } from '../redis-harness.js';

/**
 * One contract, three stores: the embedded SQLite default, memory, and Redis. Lists are pages of
 * metadata in a stable newest-first order; room and study reads return theirs only; retention forgets.
 */

const dirs: string[] = [];
let redis: RedisServer | undefined;
let redisBuses = 0;
before(async () => {
  if (!redisSkip()) redis = await RedisServer.start();
});
after(async () => {
  await redis?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eri-history-'));
  dirs.push(dir);
  return dir;
}

const stores: Record<string, { skip: string | false; open: (o: HistoryOptions) => Promise<Bus> }> = {
  sqlite: {
    skip: false,
    open: async (o) => new LocalBus(SqliteHistory.open(join(tempDir(), 'history.sqlite'), o)),
  },
  memory: { skip: false, open: async (o) => new LocalBus(new MemoryHistory(o)) },
  redis: {
    skip: redisSkip(),
    open: async (o) => {
      // A database of its own per bus: tests must not see each other's sessions.
      const db = ++redisBuses;
      return RedisBus.create({ url: `${redis?.url}/${db}`, nodeId: `history-${db}`, ...o });
    },
  },
};

function session(bus: Bus, sessionId: string, roomId: string, at: string, n: number, studyId?: string): void {
  bus.publish({ kind: 'session.started', sessionId, roomId, at, ...(studyId ? { studyId } : {}) });
  for (let seq = 0; seq < n; seq++)
    bus.publish({ kind: 'estimate', sessionId, roomId, estimate: fakeEstimate(sessionId, roomId, seq) });
}

const ended = (bus: Bus, sessionId: string, roomId: string) =>
  bus.publish({ kind: 'session.ended', sessionId, roomId, at: new Date().toISOString(), reason: 'normal' });

for (const [name, store] of Object.entries(stores)) {
  describe(`history on ${name}`, { skip: store.skip }, () => {
    it('rooms and studies read theirs only; pages are metadata, newest first, with no gap or repeat', async () => {
      const bus = await store.open({});
      // Five sessions in the same millisecond: within it the order is by id.
      const same = '2026-01-01T00:00:01.000Z';
      for (const [id, room] of [
        ['a1', 'a'],
        ['a2', 'a'],
        ['b1', 'b'],
        ['c1', 'c'],
        ['c2', 'c'],
      ] as const)
        session(bus, id, room, same, 3);
      session(bus, 'old', 'a', '2026-01-01T00:00:00.000Z', 2);
      session(bus, 'v1', 's', '2026-01-01T00:00:02.000Z', 4, 'st-1');
      session(bus, 'v2', 's', '2026-01-01T00:00:03.000Z', 1, 'st-2');
      await bus.flush(5000);

      const all: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await bus.sessions({ limit: 3, ...(cursor ? { cursor } : {}) });
        assert.ok(page.sessions.length <= 3);
        all.push(...page.sessions.map((s) => s.sessionId));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      assert.deepEqual(all, ['v2', 'v1', 'c2', 'c1', 'b1', 'a2', 'a1', 'old']);
      assert.equal(pages, 3);

      const ids = async (q: Parameters<Bus['sessions']>[0]) =>
        (await bus.sessions(q)).sessions.map((s) => s.sessionId);
      assert.deepEqual(await ids({ rooms: ['a', 'c'] }), ['c2', 'c1', 'a2', 'a1', 'old']);
      assert.deepEqual(await ids({ rooms: ['a', 'c'], limit: 2 }), ['c2', 'c1']);
      assert.deepEqual(await ids({ rooms: ['nowhere'] }), []);
      assert.deepEqual(await ids({ studyId: 'st-1' }), ['v1']);
      const [v1] = (await bus.sessions({ studyId: 'st-1' })).sessions;
      assert.equal(v1?.studyId, 'st-1');
      assert.equal(v1?.estimates, 4, 'a count: the list carries no estimates');
      assert.equal(v1?.firstSeq, 0);
      assert.deepEqual(
        (await bus.estimatesAfter('b1', 0)).map((e) => e.seq),
        [1, 2],
      );
      await assert.rejects(bus.sessions({ cursor: 'not-a-cursor' }), { code: 'ERI_ERR_INVALID_ARGUMENT' });
      await assert.rejects(bus.sessions({ limit: 0 }), { code: 'ERI_ERR_INVALID_ARGUMENT' });
      await assert.rejects(bus.sessions({ limit: 1_000_000 }), { code: 'ERI_ERR_INVALID_ARGUMENT' });
      await bus.close();
    });

    it('final, end, markers and delete', async () => {
      const bus = await store.open({});
      session(bus, 'f', 'r', new Date().toISOString(), 2, 'st-9');
      bus.publish({
        kind: 'estimate',
        sessionId: 'f',
        roomId: 'r',
        estimate: fakeEstimate('f', 'r', 2, true),
      });
      bus.recordMarker('f', { event: 'play', position: 0, mediaTime: 0.5 });
      bus.recordMarker('f', { event: 'pause', position: 3, mediaTime: 3.5 });
      ended(bus, 'f', 'r');
      await bus.flush(5000);
      await new Promise((r) => setTimeout(r, 50)); // markers go to Redis on their own
      const s = await bus.session('f');
      assert.equal(s?.final?.seq, 2);
      assert.equal(s?.estimates, 3);
      assert.equal(s?.endReason, 'normal');
      assert.deepEqual(
        (await bus.markers('f')).map((m) => m.event),
        ['play', 'pause'],
      );
      assert.equal(await bus.deleteSession('f'), true);
      assert.equal(await bus.session('f'), undefined);
      assert.deepEqual(await bus.markers('f'), []);
      assert.deepEqual((await bus.sessions({ studyId: 'st-9' })).sessions, []);
      assert.equal(await bus.deleteSession('f'), false);
      await bus.close();
    });

    it('retention: an ended session outlives its end by the configured time only (0: forgotten at the end)', async () => {
      for (const [retentionSeconds, kept] of [
        [0, false],
        [3600, true],
      ] as const) {
        const bus = await store.open({ retentionSeconds });
        session(bus, 's', 'r', new Date().toISOString(), 1);
        await bus.flush(5000);
        assert.ok(await bus.session('s'), 'live sessions are kept');
        ended(bus, 's', 'r');
        await bus.flush(5000);
        await new Promise((r) => setTimeout(r, 5));
        assert.equal(Boolean(await bus.session('s')), kept, `retention ${retentionSeconds} s`);
        assert.equal((await bus.sessions()).sessions.length, kept ? 1 : 0);
        await bus.close();
      }
    });

    // Redis trims streams approximately (MAXLEN ~), so the exact bound is checked on the local stores.
    if (name !== 'redis')
      it('the per-session bound: older estimates go, and a resume from before them is refused', async () => {
        const bus = await store.open({ maxEstimatesPerSession: 5 });
        session(bus, 'long', 'r', new Date().toISOString(), 12);
        const s = await bus.session('long');
        assert.equal(s?.estimates, 5);
        assert.equal(s?.firstSeq, 7);
        await assert.rejects(bus.estimatesAfter('long', 2), { code: 'ERI_ERR_HISTORY_GONE' });
        assert.deepEqual(
          (await bus.estimatesAfter('long', 6)).map((e) => e.seq),
          [7, 8, 9, 10, 11],
        );
        await bus.close();
      });
  });
}

it('sqlite across processes: a restart keeps everything, a session left running is ended node-lost, and a second opener is refused', async () => {
  const path = join(tempDir(), 'history.sqlite');
  const bus = new LocalBus(SqliteHistory.open(path));
  session(bus, 'done', 'r', '2026-01-01T00:00:00.000Z', 3);
  ended(bus, 'done', 'r');
  session(bus, 'running', 'r', '2026-01-01T00:02:00.000Z', 2);
  assert.throws(() => SqliteHistory.open(path), {
    code: 'ERI_ERR_INVALID_STATE',
    message: /in use by another process/,
  });
  await bus.close();
  const again = SqliteHistory.open(path);
  assert.equal((await again.session('done'))?.endReason, 'normal');
  assert.equal((await again.session('running'))?.endReason, 'node-lost');
  assert.deepEqual(
    (await again.estimatesAfter('running', -1)).map((e) => e.seq),
    [0, 1],
  );
  await again.close();
});
