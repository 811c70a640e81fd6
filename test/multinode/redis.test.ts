import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { EriStreamClient, type StreamEvent } from '../../packages/client/src/index.js';
import { publishFile } from '../../src/cli/publish.js';
import type { Estimate } from '../../src/contracts/estimate.js';
import { synthesizeClip } from '../../src/features/synthetic-clip.js';
import { initRandomPackage } from '../../src/model/package-tools.js';
import { withTempDir } from '../helpers.js';
import { RedisServer, redisSkip } from '../redis-harness.js';
import { mediasoupSkip, spawnServe, startServer, type TestServer } from '../server-harness.js';

// Two (or three) real server nodes on loopback sharing one real redis-server.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const skip = redisSkip() || mediasoupSkip();

async function clip(dir: string, seconds: number): Promise<string> {
  return synthesizeClip(join(dir, `clip-${seconds}.mkv`), { seconds });
}

function contiguous(estimates: Estimate[]): void {
  const seqs = estimates.map((e) => e.seq);
  assert.deepEqual(
    seqs,
    Array.from({ length: seqs.length }, (_, i) => i),
    `no gap, no duplicate: ${seqs.join(',')}`,
  );
}

describe('several nodes sharing Redis', { skip }, () => {
  let redis: RedisServer;
  let a: TestServer;
  let b: TestServer;
  // CPU is left out of placement here: this test machine's load says nothing about the nodes.
  const nodeOptions = (id: string) => ({
    nodeId: id,
    nodeHeartbeatMs: 500,
    nodeTtlMs: 1500,
    featureWorkers: 1,
    placementMaxCpu: 1000,
  });

  before(async () => {
    redis = await RedisServer.start();
    a = await startServer({ ...nodeOptions('node-a'), redisUrl: redis.url });
    b = await startServer({ ...nodeOptions('node-b'), redisUrl: redis.url });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.destroy();
  });

  it('a subscriber on B sees a session published to A, resumes on A without gap or duplicate, and the room aggregate counts viewers on both nodes', async () => {
    await withTempDir(async (dir) => {
      const media = await clip(dir, 6);
      const onB = new EriStreamClient(b.url);
      const events: StreamEvent[] = [];
      const sub = onB.events({ roomId: 'shared' }).subscribe((e) => events.push(e));
      // A second subscriber on B watches the room's aggregates throughout.
      const watcher = new EriStreamClient(b.url);
      const aggregates: number[] = [];
      watcher.events({ roomId: 'shared' }).subscribe((e) => {
        if (e.type === 'room.aggregate') aggregates.push(e.data.viewers);
      });
      // A failed assertion must not leave clients open: the test file would never exit.
      let onA: EriStreamClient | undefined;
      try {
        await sleep(300);
        const publishing = Promise.all([
          publishFile(media, { server: a.url, room: 'shared', session: 'on-a' }),
          publishFile(media, { server: b.url, room: 'shared', session: 'on-b' }),
        ]);
        // Part-way, the subscriber on B goes away; it comes back on A with what it saw as its resume point.
        const deadline = Date.now() + 20_000;
        while (
          events.filter((e) => e.type === 'estimate' && e.data.sessionId === 'on-a').length < 2 &&
          Date.now() < deadline
        )
          await sleep(100);
        sub.unsubscribe();
        onB.close();
        const seenOnB = events
          .filter(
            (e): e is Extract<StreamEvent, { type: 'estimate' }> =>
              e.type === 'estimate' && e.data.sessionId === 'on-a',
          )
          .map((e) => e.data);
        assert.ok(seenOnB.length >= 2, 'B received estimates of the session running on A');
        const lastSeq = seenOnB.at(-1)?.seq ?? -1;
        onA = new EriStreamClient(a.url);
        const rest = firstValueFrom(
          onA.estimates({ sessionId: 'on-a' }, { resume: { 'on-a': lastSeq } }).pipe(
            filter((e) => e.sessionId === 'on-a'),
            takeUntilFinal(),
            toArray(),
          ),
        );
        await publishing;
        contiguous([...seenOnB, ...(await rest)]);
      } finally {
        onB.close();
        onA?.close();
        watcher.close();
      }
      assert.ok(aggregates.includes(2), `an aggregate over both nodes' viewers: ${aggregates.join(',')}`);
    });
  });

  it('placement sends a new publisher to the least-loaded node with room, and says "at capacity" when none has', async () => {
    const { placePublisher } = await import('../../src/sessions/placement.js');
    const node = (id: string, sessions: number, maxSessions: number, cpu = 0.1) => ({
      id,
      url: `http://${id}`,
      at: 0,
      sessions,
      maxSessions,
      cpu,
    });
    assert.equal(placePublisher([node('a', 3, 8), node('b', 1, 8)]).id, 'b');
    assert.equal(placePublisher([node('a', 1, 2), node('b', 1, 8)]).id, 'b', 'by share of its limit');
    assert.equal(placePublisher([node('a', 0, 8, 0.95), node('b', 7, 8)]).id, 'b', 'a busy CPU has no room');
    assert.throws(() => placePublisher([node('a', 8, 8), node('b', 2, 2)]), {
      code: 'ERI_ERR_LIMIT',
      message: /at capacity/,
    });
    // Live, through either node: both nodes are known (heartbeats), and the answer is one of them.
    await sleep(700);
    const answers = await Promise.all(
      [a.url, b.url].map(
        async (u) => (await (await fetch(`${u}/v1/placement`)).json()) as { nodeId: string; url: string },
      ),
    );
    for (const p of answers) assert.ok(['node-a', 'node-b'].includes(p.nodeId), JSON.stringify(p));
    assert.equal(answers[0]?.nodeId, answers[1]?.nodeId, 'both nodes agree');
  });

  it('Redis stopped for 10 s mid-session: the node keeps going, buffers, flushes in order; a resuming subscriber misses nothing', async () => {
    await withTempDir(async (dir) => {
      const media = await clip(dir, 16);
      // Longer than the node expiry (1.5 s): no node may take A's session for lost when Redis is back.
      const ends: string[] = [];
      const watcher = new EriStreamClient(b.url);
      const watching = watcher
        .events({ roomId: 'outage' })
        .subscribe((e) => e.type === 'session.ended' && ends.push(e.data.reason));
      // A failed assertion must not leave the watcher open: the test file would never exit.
      try {
        await sleep(300);
        const publishing = publishFile(media, { server: a.url, room: 'outage', session: 'through-outage' });
        await sleep(3000);
        await redis.stop();
        await sleep(3000);
        const metrics = await (await fetch(`${a.url}/metrics`)).text();
        const buffered = Number(/eri_redis_buffered_events (\d+)/.exec(metrics)?.[1] ?? 0);
        assert.ok(buffered > 0, `metrics show the buffering (${buffered})`);
        assert.match(metrics, /eri_redis_connected 0/);
        await sleep(7000);
        await redis.resume();
        const result = await publishing;
        assert.ok(result.final, 'the session finished normally through the outage');
        await sleep(1500);
        // Everything reached Redis in order: a subscriber on B reads it all from the start.
        const history = (await (await fetch(`${b.url}/v1/sessions/through-outage/estimates`)).json()) as {
          estimates: Estimate[];
        };
        contiguous(history.estimates);
        assert.equal(history.estimates.at(-1)?.final, true);
        assert.equal(history.estimates.length, result.estimates.length + 1);
        await sleep(1000);
      } finally {
        watching.unsubscribe();
        watcher.close();
      }
      assert.deepEqual(ends, ['normal'], 'ended once, normally: never node-lost');
    });
  });
});

describe('Redis without persistence, restarted empty', { skip }, () => {
  it("no live session is taken for lost, and each node's heartbeat and live sessions are announced again", async () => {
    const redis = await RedisServer.start({ persist: false });
    const options = { nodeHeartbeatMs: 500, nodeTtlMs: 1500, featureWorkers: 1, redisUrl: redis.url };
    const a = await startServer({ ...options, nodeId: 'owner' });
    const b = await startServer({ ...options, nodeId: 'judge' });
    const check = createClient({ url: redis.url });
    try {
      await withTempDir(async (dir) => {
        const media = await clip(dir, 20);
        const ends: string[] = [];
        const watcher = new EriStreamClient(b.url);
        const watching = watcher
          .events({ roomId: 'amnesia' })
          .subscribe((e) => e.type === 'session.ended' && ends.push(e.data.reason));
        await sleep(300);
        const publishing = publishFile(media, { server: a.url, room: 'amnesia', session: 'kept-live' });
        await sleep(3000);
        await redis.stop();
        await sleep(3000); // past the expiry, and the restart forgets every key
        await redis.resume();
        await check.connect();
        const deadline = Date.now() + 10_000;
        while (!(await check.sIsMember('eri:live', 'kept-live')) && Date.now() < deadline) await sleep(100);
        assert.ok(await check.sIsMember('eri:live', 'kept-live'), 'the live session is listed again');
        assert.equal(await check.hGet('eri:meta:kept-live', 'owner'), 'owner');
        assert.ok(await check.exists('eri:node:owner'), 'the owner beats again');
        const result = await publishing;
        assert.equal(result.endReason, 'normal', 'the session ran to its end on its node');
        await sleep(1000);
        watching.unsubscribe();
        watcher.close();
        assert.deepEqual(ends, ['normal'], 'B never declared it node-lost');
      });
    } finally {
      await check.quit().catch(() => {});
      await a.stop();
      await b.stop();
      await redis.destroy();
    }
  });
});

describe('a node killed with SIGKILL', { skip }, () => {
  it('its sessions are reported ended (node-lost) to subscribers on another node within the heartbeat expiry + 2 s', async () => {
    const redis = await RedisServer.start();
    const b = await startServer({
      nodeId: 'survivor',
      nodeHeartbeatMs: 500,
      nodeTtlMs: 1500,
      redisUrl: redis.url,
      featureWorkers: 1,
    });
    await withTempDir(async (dir) => {
      await initRandomPackage(join(dir, 'model'), { seed: 1 });
      const media = await clip(dir, 12);
      const { child: victim, url } = await spawnServe(join(dir, 'model'), {
        REDIS_URL: redis.url,
        ERI_NODE_ID: 'victim',
        ERI_NODE_HEARTBEAT_MS: '500',
        ERI_NODE_TTL_MS: '1500',
      });
      let watcher: EriStreamClient | undefined;
      try {
        watcher = new EriStreamClient(b.url);
        const ended = firstValueFrom(
          watcher.events({ roomId: 'fragile' }).pipe(
            filter((e) => e.type === 'session.ended'),
            take(1),
          ),
        );
        await sleep(300);
        // The publisher learns its server is gone too: publishFile rejects with ERI_ERR_CLOSED.
        const publishing = publishFile(media, { server: url, room: 'fragile', session: 'doomed' }).then(
          () => 'finished',
          (e: { code?: string }) => e.code,
        );
        await sleep(4000);
        const killedAt = Date.now();
        victim.kill('SIGKILL');
        const event = (await Promise.race([ended, sleep(15_000).then(() => undefined)])) as
          | Extract<StreamEvent, { type: 'session.ended' }>
          | undefined;
        const after = Date.now() - killedAt;
        assert.ok(event, 'a session.ended event within 15 s');
        assert.equal(event.data.sessionId, 'doomed');
        assert.equal(event.data.reason, 'node-lost');
        assert.equal(event.data.error?.code, 'ERI_ERR_NODE_LOST');
        assert.ok(after <= 1500 + 2000, `reported ${after} ms after the kill`);
        assert.equal(await publishing, 'ERI_ERR_CLOSED');
      } finally {
        watcher?.close();
        victim.kill('SIGKILL');
        await b.stop();
        await redis.destroy();
      }
    });
  });
});

/** Completes after the final estimate. */
function takeUntilFinal() {
  return (source: import('rxjs').Observable<Estimate>) =>
    new (source.constructor as typeof import('rxjs').Observable<Estimate>)((subscriber) =>
      source.subscribe({
        next: (e) => {
          subscriber.next(e);
          if (e.final) subscriber.complete();
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}
