import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadPreparedMedia, type PreparedMedia, prepareMedia } from '../../src/bench/load/media.js';
import { formatLoadReport, runScenario } from '../../src/bench/load/run-scenarios.js';
import { loadScenarios, SCENARIO_NAMES, type Scenarios } from '../../src/bench/load/scenarios.js';
import { synthesizeClip } from '../../src/features/synthetic-clip.js';
import { REPO_ROOT, withTempDir } from '../helpers.js';
import { testMedia } from '../media.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/**
 * The load scenarios of load-tests/ at their small scale, run by the Node harness against a real server:
 * every scenario completes with nothing refused, failed or starved. The latency thresholds are printed
 * (they are the benchmarks' business on a quiet machine, not a test's); the k6 scripts type-check.
 */

const REAL_CLIP = testMedia('OpenTalker_video-retalking/face/4.mp4');

describe('load scenarios (small scale)', { skip: mediasoupSkip() }, () => {
  let server: TestServer;
  let scenarios: Scenarios;
  let media: PreparedMedia;
  let cleanup: () => void = () => {};

  before(async () => {
    // One load generator on one address: the per-address REST limit would be what it measures.
    server = await startServer({ maxRestRequestsPerSecond: 1_000_000 });
    scenarios = await loadScenarios();
    await new Promise<void>((ready) => {
      void withTempDir(async (dir) => {
        const clip = REAL_CLIP.skip
          ? await synthesizeClip(join(dir, 'clip.mp4'), { seconds: 6 })
          : REAL_CLIP.path;
        await prepareMedia(clip, join(dir, 'media'));
        media = await loadPreparedMedia(join(dir, 'media'));
        ready();
        await new Promise<void>((done) => {
          cleanup = done;
        });
      });
    });
  });

  after(async () => {
    cleanup();
    await server?.stop();
  });

  for (const name of SCENARIO_NAMES) {
    it(`${name}: completes without errors, failures or starved clients`, { timeout: 120_000 }, async () => {
      const report = await runScenario(name, server.url, scenarios, 'small', media);
      console.log(formatLoadReport(report));
      const behavioural = report.thresholds.filter((t) => !/_ms |duration/.test(t.metric));
      assert.ok(behavioural.length > 0);
      for (const t of behavioural) assert.ok(t.pass, `${t.metric} ${t.rule}: actual ${t.actual}`);
    });
  }

  it('the k6 scripts type-check against @types/k6', async () => {
    await promisify(execFile)(process.execPath, [
      join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(REPO_ROOT, 'load-tests/tsconfig.json'),
    ]);
  });
});
