import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { ERROR_CODES } from '../../src/errors.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/**
 * /v1/openapi.json is generated from the routes' zod schemas: a valid OpenAPI 3 document, public, that
 * describes every REST route with its parameters, its answer and its error codes (with the statuses of
 * the errors table), and a readable page at /v1/docs.
 */

const SECRET = 'openapi-secret-of-at-least-32-characters!';

const ROUTES: [string, string][] = [
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/v1/model'],
  ['get', '/model'],
  ['get', '/v1/edge/graphs/{id}'],
  ['get', '/metrics'],
  ['get', '/v1/placement'],
  ['get', '/v1/sessions'],
  ['get', '/v1/sessions/{id}'],
  ['delete', '/v1/sessions/{id}'],
  ['get', '/v1/sessions/{id}/estimates'],
  ['get', '/v1/sessions/{id}/final'],
  ['get', '/v1/sessions/{id}/markers'],
  ['get', '/v1/studies'],
  ['post', '/v1/studies'],
  ['get', '/v1/studies/{id}'],
  ['delete', '/v1/studies/{id}'],
  ['put', '/v1/studies/{id}/stimulus'],
  ['get', '/v1/studies/{id}/stimulus'],
  ['get', '/v1/studies/{id}/thumbnail'],
  ['get', '/v1/studies/{id}/timeline'],
  ['get', '/v1/studies/{id}/report.svg'],
];

type Operation = { responses: Record<string, { description: string }>; summary?: string };

describe('OpenAPI', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>> };
  before(async () => {
    t = await startServer({ jwtSecret: SECRET });
    const res = await fetch(`${t.url}/v1/openapi.json`);
    assert.equal(res.status, 200, 'public: no token needed to read how to call');
    doc = (await res.json()) as typeof doc;
  });
  after(() => t?.stop());

  it('is a valid OpenAPI 3 document', async () => {
    assert.match(doc.openapi, /^3\./);
    await SwaggerParser.validate(structuredClone(doc) as never);
  });

  it('describes every REST route, and nothing more', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method} ${path}`),
    );
    assert.deepEqual(documented.sort(), ROUTES.map(([m, p]) => `${m} ${p}`).sort());
    for (const [method, path] of ROUTES)
      assert.ok(doc.paths[path]?.[method]?.summary, `${method} ${path} has a summary`);
  });

  it('names each route’s error codes under the status the errors table gives them', () => {
    const statusOf = new Map(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, String(status)]));
    for (const [method, path] of ROUTES) {
      const op = doc.paths[path]?.[method] as Operation;
      // 416 (a byte range past the end) and 503 (not ready) are HTTP's own answers, not error codes.
      const errors = Object.entries(op.responses).filter(
        ([status]) => Number(status) >= 400 && status !== '503' && status !== '416',
      );
      // Liveness, readiness and the model card answer from memory: they have no error of their own.
      if (path !== '/healthz' && path !== '/readyz' && path !== '/v1/model')
        assert.ok(errors.length > 0, `${method} ${path} lists errors`);
      for (const [status, response] of errors) {
        const codes = [...response.description.matchAll(/ERI_ERR_[A-Z_]+/g)].map((m) => m[0]);
        assert.ok(codes.length > 0, `${method} ${path} ${status}: ${response.description}`);
        for (const code of codes) assert.equal(statusOf.get(code), status, `${method} ${path}: ${code}`);
      }
    }
    const list = doc.paths['/v1/sessions']?.get as Operation;
    assert.match(list.responses['400']?.description ?? '', /ERI_ERR_INVALID_ARGUMENT/);
    assert.match(list.responses['401']?.description ?? '', /ERI_ERR_UNAUTHENTICATED/);
  });

  it('has a readable page, also public', async () => {
    const res = await fetch(`${t.url}/v1/docs/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /swagger-ui/i);
  });

  it('what the schemas say is enforced: a bad query is a typed 400 before the handler runs', async () => {
    const res = await fetch(`${t.url}/v1/sessions?limit=abc`, {
      headers: {
        authorization: `Bearer ${await (await import('../../src/cli/token.js')).mintToken({ secret: SECRET, scope: 'subscribe:*', ttlSeconds: 60, subject: 'o' })}`,
      },
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, 'ERI_ERR_INVALID_ARGUMENT');
    assert.match(body.message, /limit/);
  });
});
