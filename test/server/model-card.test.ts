import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { firstValueFrom } from 'rxjs';
import { EriStreamClient } from '../../packages/client/src/index.js';
import { STARTER_MODEL_DIR } from '../../src/cli/default-model.js';
import { mintToken } from '../../src/cli/token.js';
import { modelInfoSchema } from '../../src/contracts/model-info.js';
import { loadServerConfig } from '../../src/server/config.js';
import { memoryLogger } from '../../src/server/logger.js';
import { EriServer } from '../../src/server/server.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/** What a client and a reader are told about the model: one shape everywhere, and a card anyone can read. */

const SECRET = 'model-card-secret-of-at-least-32-characters!';

describe('the model card, untrained model', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  before(async () => {
    t = await startServer({ jwtSecret: SECRET });
  });
  after(() => t.stop());

  it('is public, and the stream says the same about the model', async () => {
    const res = await fetch(`${t.url}/v1/model`);
    assert.equal(res.status, 200, 'public: it says what the numbers are, nothing anyone published');
    const body = (await res.json()) as { model: unknown; card: { name: string; trained: boolean } };
    const model = modelInfoSchema.parse(body.model);
    assert.deepEqual(model, {
      name: body.card.name,
      version: model.version,
      trained: false,
      proxy: false,
      card: '/model',
    });
    const token = await mintToken({ secret: SECRET, scope: 'subscribe:*', ttlSeconds: 60, subject: 't' });
    const client = new EriStreamClient(t.url, { token });
    const hello = firstValueFrom(client.hello$);
    const sub = client.estimates({ roomId: 'lobby' }).subscribe();
    try {
      assert.deepEqual((await hello).model, model);
    } finally {
      sub.unsubscribe();
    }
  });

  it('a package without a README has no readable card: a typed 404 that says where the JSON is', async () => {
    const res = await fetch(`${t.url}/model`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, 'ERI_ERR_NOT_FOUND');
    assert.match(body.message, /\/v1\/model/);
  });
});

describe('the model card, the shipped starter model', { skip: mediasoupSkip() }, () => {
  it('says "proxy" and serves the README as the readable card', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eri-card-'));
    const config = loadServerConfig(
      {},
      {
        host: '127.0.0.1',
        port: 0,
        mediaWorkers: 1,
        featureWorkers: 1,
        inferenceWorkers: 1,
        dataDir: dir,
        insecureDev: true,
      },
    );
    const server = await EriServer.create(
      config,
      STARTER_MODEL_DIR,
      memoryLogger(() => {}),
    );
    try {
      const url = await server.listen();
      const { model } = (await (await fetch(`${url}/v1/model`)).json()) as {
        model: { proxy: boolean; trained: boolean };
      };
      assert.equal(model.trained, true);
      assert.equal(model.proxy, true, 'the starter model learned a teacher: pages must say "proxy model"');
      const card = await fetch(`${url}/model`);
      assert.equal(card.status, 200);
      assert.match(card.headers.get('content-type') ?? '', /text\/plain; charset=utf-8/);
      assert.match(await card.text(), /proxy/i);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
