import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatFuzzReport, runFuzz } from '../../src/bench/fuzz.js';
import { mintToken } from '../../src/cli/token.js';
import { mediasoupSkip, startServer } from '../server-harness.js';

/**
 * 10,000 random and mutated inputs across /v1/signal, /v1/ingest, /v1/stream and the REST routes of a
 * real server with authentication on: every input is answered or dropped by a documented rule, the
 * server stays up, and its memory stays bounded.
 */

const SECRET = 'fuzz-secret-of-at-least-32-characters!!';

it('fuzz: 10,000 inputs, all answered or dropped by rule; the server stays up', {
  skip: mediasoupSkip(),
  timeout: 600_000,
}, async () => {
  const t = await startServer({
    jwtSecret: SECRET,
    maxMessagesPerSecond: 100_000,
    maxSessionsPerToken: 1000,
  });
  try {
    const token = await mintToken({ secret: SECRET, scope: 'publish:* subscribe:* admin', ttlSeconds: 3600 });
    const rssBefore = process.memoryUsage().rss;
    const report = await runFuzz({ url: t.url, inputs: 10_000, seed: 7, token });
    console.log(formatFuzzReport(report));
    const rssAfter = process.memoryUsage().rss;
    console.log(`rss ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB`);
    assert.equal(report.inputs, 10_000);
    assert.ok(report.serverUp);
    assert.deepEqual(report.violations, []);
    assert.ok(rssAfter - rssBefore < 512 * 2 ** 20, 'memory bounded');
    // The server still does its job afterwards.
    const r = await fetch(`${t.url}/v1/sessions`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
  } finally {
    await t.stop();
  }
});
