import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { summarizeProfile } from '../../src/bench/profile-summary.js';
import { runEri, withTempDir } from '../helpers.js';

const frame = (functionName: string, url = '') => ({ functionName, url, scriptId: '0', lineNumber: 0 });

it("a profile's self time is charged to the tfjs kernel above the WebAssembly, else to the function", () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 4, 5] },
      { id: 2, callFrame: frame('FusedConv2D', 'file:///x/tf-backend-wasm.node.js'), children: [3] },
      { id: 3, callFrame: frame('wasm-function[400]', 'wasm://wasm/0019ea4a') },
      { id: 4, callFrame: frame('analyze', 'file:///x/face/face-analyzer.js') },
      { id: 5, callFrame: frame('(idle)') },
    ],
    samples: [3, 3, 3, 4, 5, 2],
    timeDeltas: [1000, 1000, 1000, 500, 500, 1000],
  };
  const r = summarizeProfile(profile);
  assert.equal(r.totalMs, 5);
  assert.equal(r.idleMs, 0.5);
  assert.deepEqual(
    r.rows.map((x) => [x.name, x.ms]),
    [
      ['FusedConv2D (tfjs kernel)', 4],
      ['analyze face/face-analyzer.js', 0.5],
    ],
  );
  assert.equal(r.rows[0]?.share, 4 / 4.5);
  assert.throws(() => summarizeProfile({ nodes: 'no' }), { code: 'ERI_ERR_INVALID_ARGUMENT' });
});

it('eri bench profile reads a real node --cpu-prof profile, and refuses what is not one', async () => {
  await withTempDir(async (dir) => {
    await promisify(execFile)(process.execPath, [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      '-e',
      'let s = 0; for (let i = 0; i < 3e7; i++) s += Math.sqrt(i); console.log(s > 0)',
    ]);
    const [file] = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    assert.ok(file);
    const ok = await runEri(['bench', 'profile', join(dir, file), '--top', '5']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /self time charged to/);
    await writeFile(join(dir, 'bad.cpuprofile'), '{"nodes": 3}');
    const bad = await runEri(['bench', 'profile', join(dir, 'bad.cpuprofile')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /ERI_ERR_INVALID_ARGUMENT.*not a V8 CPU profile/);
  });
});
