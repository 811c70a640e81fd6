import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { EriStreamClient } from '../../packages/client/src/index.js';
import { publishFile } from '../../src/cli/publish.js';
import type { Estimate } from '../../src/contracts/estimate.js';
import { synthesizeClip } from '../../src/features/synthetic-clip.js';
import { historyDatabasePath } from '../../src/history/open-history.js';
import { SqliteHistory } from '../../src/history/sqlite-history.js';
import { initRandomPackage } from '../../src/model/package-tools.js';
import { withTempDir } from '../helpers.js';
import { mediasoupSkip, spawnServe, startServer } from '../server-harness.js';

/** The embedded default keeps history on disk: through a restart, and through a SIGKILL mid-write. */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('history on the embedded default', { skip: mediasoupSkip() }, () => {
  it('after a restart the session list, the estimates, the final and a resume from a seq all still work', async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'data');
      const media = await synthesizeClip(join(dir, 'clip.mkv'), { seconds: 5 });
      const first = await startServer({ dataDir });
      const published = await publishFile(media, { server: first.url, room: 'kept', session: 'before' });
      await first.stop();
      assert.ok(published.final, 'the session ended with a final estimate');
      assert.ok(published.estimates.length >= 3, `${published.estimates.length} running estimates`);

      const second = await startServer({ dataDir });
      try {
        const list = (await (await fetch(`${second.url}/v1/sessions`)).json()) as {
          sessions: { sessionId: string; endReason: string; estimates: number }[];
          nextCursor: string | null;
        };
        assert.deepEqual(
          list.sessions.map((s) => [s.sessionId, s.endReason, s.estimates]),
          [['before', 'normal', published.estimates.length + 1]],
        );
        assert.equal(list.nextCursor, null);
        const series = (await (await fetch(`${second.url}/v1/sessions/before/estimates`)).json()) as {
          estimates: Estimate[];
        };
        assert.deepEqual(series.estimates, [...published.estimates, published.final]);
        assert.deepEqual(
          await (await fetch(`${second.url}/v1/sessions/before/final`)).json(),
          published.final,
        );

        const client = new EriStreamClient(second.url);
        const from = 1;
        const replayed = await firstValueFrom(
          client
            .estimates({ sessionId: 'before' }, { resume: { before: from } })
            .pipe(take(published.estimates.length - from), toArray()),
        );
        client.close();
        assert.deepEqual(
          replayed.map((e) => e.seq),
          published.estimates
            .slice(from + 1)
            .map((e) => e.seq)
            .concat(published.final?.seq ?? -1),
        );
      } finally {
        await second.stop();
      }
    });
  });

  it('SIGKILL while estimates are written: the database is consistent and every estimate a subscriber got is in it', async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'data');
      await initRandomPackage(join(dir, 'model'), { seed: 1 });
      const media = await synthesizeClip(join(dir, 'clip.mkv'), { seconds: 20 });
      const { child, url } = await spawnServe(join(dir, 'model'), { ERI_DATA_DIR: dataDir });
      let watcher: EriStreamClient | undefined;
      try {
        watcher = new EriStreamClient(url);
        const received: Estimate[] = [];
        const enough = firstValueFrom(
          watcher.estimates({ roomId: 'crash' }).pipe(
            filter((e) => {
              received.push(e);
              return received.length >= 6;
            }),
            take(1),
          ),
        );
        await sleep(300);
        const publishing = publishFile(media, { server: url, room: 'crash', session: 'killed' }).catch(
          () => {},
        );
        await enough;
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        watcher.close();
        await publishing;

        const path = historyDatabasePath(dataDir);
        const check = new Database(path, { readonly: true });
        assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
        check.close();
        const history = SqliteHistory.open(path);
        try {
          const kept = await history.estimatesAfter('killed', -1);
          const bySeq = new Map(kept.map((e) => [e.seq, e]));
          for (const e of received)
            assert.deepEqual(bySeq.get(e.seq), e, `estimate ${e.seq} is kept as sent`);
          assert.equal((await history.session('killed'))?.endReason, 'node-lost');
        } finally {
          await history.close();
        }
      } finally {
        watcher?.close();
        child.kill('SIGKILL');
      }
    });
  });
});
