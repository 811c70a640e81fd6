import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { test } from 'node:test';
import { descendantsNamed } from '../../src/bench/proc-usage.js';

test('descendantsNamed finds the processes this one started, not others of the same name', async () => {
  const own = spawn('sleep', ['30'], { stdio: 'ignore' });
  // A sleep whose shell has exited belongs to no one here: it is reparented away from this process.
  const stranger = Number(
    execFileSync('sh', ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' }),
  );
  try {
    const found = await descendantsNamed(process.pid, 'sleep');
    assert.ok(found.includes(own.pid as number), `own sleep ${own.pid} in ${found}`);
    assert.ok(!found.includes(stranger), `stranger ${stranger} not in ${found}`);
  } finally {
    own.kill();
    try {
      process.kill(stranger);
    } catch {
      // already gone
    }
  }
});
