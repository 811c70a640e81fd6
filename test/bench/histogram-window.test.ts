import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  bucketQuantile,
  bucketsBetween,
  bucketTotal,
  fractionWithin,
  readBuckets,
  readCounter,
} from '../../src/bench/histogram-window.js';

it('a histogram window holds only what was observed between its two reads, read as Prometheus would', async () => {
  const registry = new Registry();
  const h = new Histogram({
    name: 'x_seconds',
    help: 'x',
    buckets: [0.1, 0.2, 0.4, 1],
    registers: [registry],
  });
  // Start-up: slow observations that the window must leave out.
  for (let i = 0; i < 10; i++) h.observe(5);
  const earlier = await readBuckets(registry, 'x_seconds');
  for (let i = 0; i < 90; i++) h.observe(0.15);
  for (let i = 0; i < 10; i++) h.observe(0.3);
  const window = bucketsBetween(earlier, await readBuckets(registry, 'x_seconds'));

  assert.equal(bucketTotal(window), 100);
  assert.equal(fractionWithin(window, 0.2), 0.9);
  assert.equal(fractionWithin(window, 0.4), 1);
  assert.throws(() => fractionWithin(window, 0.3), /not a bucket bound/);
  // Rank 95 of 100 lies half way into the (0.2, 0.4] bucket, which holds ranks 91-100.
  assert.ok(Math.abs(bucketQuantile(window, 0.95) - 0.3) < 1e-9);
  // Rank 50 falls among the 90 in (0.1, 0.2].
  assert.ok(Math.abs(bucketQuantile(window, 0.5) - (0.1 + 0.1 * (50 / 90))) < 1e-9);
  assert.ok(Number.isNaN(bucketQuantile(bucketsBetween(window, window), 0.5)));
});

it('a counter is read as the sum over its labels', async () => {
  const registry = new Registry();
  const c = new Counter({ name: 'y_total', help: 'y', labelNames: ['kind'], registers: [registry] });
  c.inc({ kind: 'a' }, 2);
  c.inc({ kind: 'b' }, 3);
  assert.equal(await readCounter(registry, 'y_total'), 5);
  await assert.rejects(readCounter(registry, 'z_total'), /no metric z_total/);
});
