import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { synthesizeClip } from '../../src/features/synthetic-clip.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/**
 * One error handler: every REST error body is exactly `{code, message}`, whatever raised it (a route,
 * Fastify's body parser, its router, the rate limiter, a failing disk), and its status is the code's
 * row in src/errors.ts. A server fault is 500 ERI_ERR_INTERNAL, never blamed on the client.
 */

describe('REST errors', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(() => t?.stop());

  async function expectError(
    path: string,
    init: RequestInit,
    code: ErrorCode,
  ): Promise<{ code: string; message: string }> {
    const res = await fetch(`${t.url}${path}`, init);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['code', 'message'], `${path}: ${JSON.stringify(body)}`);
    assert.equal(body.code, code, `${path}: ${JSON.stringify(body)}`);
    assert.equal(res.status, ERROR_CODES[code].status, `${path}: status from the table`);
    assert.equal(typeof body.message, 'string');
    return body as { code: string; message: string };
  }

  const json = (body: string): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });

  it('a route that does not exist', async () => {
    const e = await expectError('/v1/nothing-here', {}, 'ERI_ERR_NOT_FOUND');
    assert.match(e.message, /no route GET \/v1\/nothing-here/);
  });

  it("Fastify's own refusals: a body that is not JSON, an empty JSON body, a body over the limit", async () => {
    await expectError('/v1/studies', json('{"name": '), 'ERI_ERR_INVALID_ARGUMENT');
    await expectError('/v1/studies', json(''), 'ERI_ERR_INVALID_ARGUMENT');
    await expectError('/v1/studies', json(`"${'x'.repeat(1024 * 1024 + 10)}"`), 'ERI_ERR_PAYLOAD_TOO_LARGE');
  });

  it("routes' own errors", async () => {
    await expectError('/v1/sessions?limit=0', {}, 'ERI_ERR_INVALID_ARGUMENT');
    await expectError('/v1/sessions?cursor=forged', {}, 'ERI_ERR_INVALID_ARGUMENT');
    await expectError('/v1/sessions/nobody', {}, 'ERI_ERR_NOT_FOUND');
    await expectError('/v1/studies', json('{"name": 3}'), 'ERI_ERR_INVALID_ARGUMENT');
    await expectError('/v1/studies/nobody', {}, 'ERI_ERR_NOT_FOUND');
  });

  it('a disk that fails while a stimulus is saved is the server fault it is: 500, not 400', async () => {
    const clip = await synthesizeClip(join(t.server.config.dataDir, '..', 'clip.mkv'), { seconds: 2 });
    const created = await fetch(`${t.url}/v1/studies`, json(JSON.stringify({ name: 'disk', rooms: ['d'] })));
    assert.equal(created.status, 201, await created.clone().text());
    const { study } = (await created.json()) as { study: { id: string } };
    // Where the stimulus file must go, a folder that is not empty: the store's final rename fails, as it
    // would on a broken disk.
    const inTheWay = join(t.server.config.dataDir, 'studies', study.id, 'stimulus');
    await mkdir(inTheWay, { recursive: true });
    await writeFile(join(inTheWay, 'x'), 'in the way');
    const e = await expectError(
      `/v1/studies/${study.id}/stimulus`,
      { method: 'PUT', headers: { 'content-type': 'video/x-matroska' }, body: await readFile(clip) },
      'ERI_ERR_INTERNAL',
    );
    assert.doesNotMatch(e.message, /EEXIST|ENOTDIR|\//, 'no internals in the answer');
    assert.ok(
      t.logs.some((l) => /internal error/.test(l)),
      'the log has the details',
    );
  });
});
