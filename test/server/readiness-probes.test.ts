import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Readiness } from '../../src/server/readiness.js';

it('a probe that never answers is reported within the deadline and is not asked again while pending', async () => {
  let asked = 0;
  let release: () => void = () => {};
  const readiness = new Readiness(
    () => [
      {
        name: 'stuck',
        probe: () => {
          asked++;
          return new Promise<void>((resolve) => {
            release = resolve;
          });
        },
      },
      { name: 'fine', probe: async () => {} },
    ],
    50,
  );
  for (let i = 0; i < 5; i++) {
    const report = await readiness.report();
    assert.equal(report.ready, false);
    assert.equal(report.checks.stuck?.ok, false);
    assert.match(report.checks.stuck?.error ?? '', /no answer within 50 ms/);
    assert.equal(report.checks.fine?.ok, true);
  }
  assert.equal(asked, 1, 'one outstanding probe, however often readiness is asked');
  release();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal((await readiness.report()).ready, false, 'a fresh probe once the old one settled');
  assert.equal(asked, 2);
});
