import assert from 'node:assert/strict';
import { it } from 'node:test';
import { mediasoupSkip, startServer } from '../server-harness.js';

it('REST is rate-limited per client address: a burst gets 429 ERI_ERR_LIMIT, health and the next second do not', {
  skip: mediasoupSkip(),
}, async () => {
  const t = await startServer({ maxRestRequestsPerSecond: 20 });
  try {
    const replies = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const r = await fetch(`${t.url}/v1/sessions`);
        return { status: r.status, body: (await r.json()) as { code?: string; message?: string } };
      }),
    );
    const ok = replies.filter((r) => r.status === 200).length;
    const limited = replies.filter((r) => r.status === 429);
    assert.ok(ok >= 20 && ok <= 40, `${ok} answered`);
    assert.equal(ok + limited.length, replies.length);
    assert.equal(limited[0]?.body.code, 'ERI_ERR_LIMIT');
    assert.match(limited[0]?.body.message ?? '', /requests per second/);
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200, 'health is not limited');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await fetch(`${t.url}/v1/sessions`)).status, 200);
  } finally {
    await t.stop();
  }
});
