import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { fakeEstimate } from '../helpers.js';

/** Privacy: an ended session's history is kept no longer than the configured retention. */

it('retention: history outlives its session by the configured time only (0: forgotten at the end)', async () => {
  for (const [retentionSeconds, kept] of [
    [0, false],
    [3600, true],
  ] as const) {
    const bus = new MemoryBus({ retentionSeconds });
    const at = new Date().toISOString();
    bus.publish({ kind: 'session.started', sessionId: 's', roomId: 'r', at });
    bus.publish({ kind: 'estimate', sessionId: 's', roomId: 'r', estimate: fakeEstimate('s', 'r', 0) });
    assert.ok(await bus.session('s'), 'live sessions are kept');
    bus.publish({ kind: 'session.ended', sessionId: 's', roomId: 'r', at, reason: 'normal' });
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(Boolean(await bus.session('s')), kept, `retention ${retentionSeconds} s`);
    assert.equal((await bus.sessions()).length, kept ? 1 : 0);
  }
});
