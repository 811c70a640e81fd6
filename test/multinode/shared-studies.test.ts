import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { synthesizeClip } from '../../src/features/synthetic-clip.js';
import { withTempDir } from '../helpers.js';
import { RedisServer, redisSkip } from '../redis-harness.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/**
 * Studies with Redis: metadata in Redis, stimulus files in a folder the nodes share (ERI_DATA_DIR on a
 * shared volume). Created, uploaded and served through any mix of nodes; a node started later sees them.
 */

const skip = redisSkip() || mediasoupSkip();

describe('studies shared by nodes on Redis', { skip }, () => {
  let redis: RedisServer;
  const nodes: TestServer[] = [];
  const json = async (r: Response) => (await r.json()) as Record<string, unknown>;

  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    for (const n of nodes) await n.stop();
    await redis?.destroy();
  });

  it('a study made on A is uploaded through B, served by A and B, seen by C started later, and deleted through C', async () => {
    await withTempDir(async (dir) => {
      const shared = join(dir, 'shared-data');
      const node = async (id: string, dataDir = shared) => {
        const n = await startServer({ nodeId: id, redisUrl: redis.url, featureWorkers: 1, dataDir });
        nodes.push(n);
        return n;
      };
      const a = await node('node-a');
      const b = await node('node-b');
      const created = await fetch(`${a.url}/v1/studies`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Trailer', rooms: ['t1'] }),
      });
      assert.equal(created.status, 201);
      const id = ((await json(created)).study as { id: string }).id;

      const stimulus = await readFile(await synthesizeClip(join(dir, 'stimulus.mp4'), { seconds: 3 }));
      const up = await fetch(`${b.url}/v1/studies/${id}/stimulus`, {
        method: 'PUT',
        headers: { 'content-type': 'video/mp4' },
        body: stimulus,
      });
      assert.equal(up.status, 200, JSON.stringify(await up.clone().json()));

      for (const n of [a, b]) {
        const study = (await json(await fetch(`${n.url}/v1/studies/${id}`))).study as {
          stimulus: { kind: string; bytes: number };
        };
        assert.deepEqual([study.stimulus.kind, study.stimulus.bytes], ['file', stimulus.length]);
        const part = await fetch(`${n.url}/v1/studies/${id}/stimulus`, {
          headers: { range: 'bytes=10-109' },
        });
        assert.equal(part.status, 206);
        assert.deepEqual(Buffer.from(await part.arrayBuffer()), stimulus.subarray(10, 110));
      }

      const c = await node('node-c');
      const listed = (await json(await fetch(`${c.url}/v1/studies`))).studies as { id: string }[];
      assert.deepEqual(
        listed.map((s) => s.id),
        [id],
      );

      // A node that does not share the folder says why it cannot serve the file.
      const apart = await node('node-apart', join(dir, 'own-data'));
      const refused = await fetch(`${apart.url}/v1/studies/${id}/stimulus`);
      assert.equal(refused.status, 404);
      assert.match(String((await json(refused)).message), /not in this node's ERI_DATA_DIR/);

      assert.equal((await fetch(`${c.url}/v1/studies/${id}`, { method: 'DELETE' })).status, 204);
      assert.equal((await fetch(`${a.url}/v1/studies/${id}`)).status, 404);
    });
  });
});
