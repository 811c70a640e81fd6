import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisServer, redisSkip } from '../redis-harness.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/**
 * /readyz asks every dependency a new viewer needs (the feature and inference pools, a media worker, and
 * Redis when configured) and turns 503 while any does not answer, then 200 again; /healthz stays 200
 * throughout, so an orchestrator stops routing to the node without restarting it.
 */

interface Report {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string }>;
}

async function readyz(url: string): Promise<{ status: number; body: Report }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Report };
}

async function waitFor(url: string, status: number, ms = 15_000): Promise<Report> {
  const end = Date.now() + ms;
  let last: { status: number; body: Report } | undefined;
  while (Date.now() < end) {
    last = await readyz(url);
    if (last.status === status) return last.body;
    await sleep(200);
  }
  assert.fail(`/readyz stayed ${last?.status}: ${JSON.stringify(last?.body)}`);
}

describe('readiness', { skip: mediasoupSkip() || redisSkip() }, () => {
  let redis: RedisServer;
  let t: TestServer;
  before(async () => {
    redis = await RedisServer.start({ persist: true });
    t = await startServer({ redisUrl: redis.url });
  });
  after(async () => {
    await t?.stop();
    await redis?.stop();
  });

  it('reports each dependency, and is ready when all answer', async () => {
    const body = await waitFor(t.url, 200);
    assert.deepEqual(Object.keys(body.checks).sort(), [
      'admitting',
      'features',
      'inference',
      'media',
      'redis',
    ]);
    for (const [name, check] of Object.entries(body.checks)) assert.equal(check.ok, true, name);
  });

  it('turns 503 while Redis is stopped, names it, and 200 again once it is back; /healthz stays 200', async () => {
    await redis.stop();
    const down = await waitFor(t.url, 503);
    assert.equal(down.ready, false);
    assert.equal(down.checks.redis?.ok, false);
    assert.equal(down.checks.features?.ok, true, 'only the dependency that is down is blamed');
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
    await redis.resume();
    const up = await waitFor(t.url, 200, 30_000);
    assert.equal(up.checks.redis?.ok, true);
  });

  it('turns 503 while the node drains for shutdown', async () => {
    const closing = t.server.close();
    const status = (await readyz(t.url).catch(() => ({ status: 503, body: undefined }))).status;
    await closing;
    assert.equal(status, 503);
  });
});
