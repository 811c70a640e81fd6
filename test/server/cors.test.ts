import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mintToken } from '../../src/cli/token.js';
import { errorBodySchema } from '../../src/contracts/error-body.js';
import { loadServerConfig } from '../../src/server/config.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

const SECRET = 'test-secret-of-at-least-32-characters!!';
const ALLOWED = 'https://study.example.org';

describe('CORS: pages on the configured origins may call the server', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  let plain: TestServer;

  before(async () => {
    t = await startServer({ jwtSecret: SECRET, corsOrigins: `${ALLOWED}, https://app.example.org/` });
    plain = await startServer({ jwtSecret: SECRET });
  });
  after(async () => {
    await t?.stop();
    await plain?.stop();
  });

  it('a preflight from an allowed origin is answered without credentials, for the Authorization header', async () => {
    const res = await fetch(`${t.url}/v1/sessions`, {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /authorization/);
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
  });

  it('an allowed page reads answers and typed refusals alike; the token still decides', async () => {
    const ok = await fetch(`${t.url}/v1/sessions`, {
      headers: {
        origin: ALLOWED,
        authorization: `Bearer ${await mintToken({ secret: SECRET, scope: 'admin', ttlSeconds: 60, subject: 'x' })}`,
      },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(ok.headers.get('access-control-expose-headers') ?? '', /x-request-id/);

    const refused = await fetch(`${t.url}/v1/sessions`, { headers: { origin: ALLOWED } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), ALLOWED);
    assert.equal(errorBodySchema.parse(await refused.json()).code, 'ERI_ERR_UNAUTHENTICATED');

    // The edge library's graphs and runtime, which a page on another origin fetches.
    const model = await fetch(`${t.url}/v1/model`, { headers: { origin: 'https://app.example.org' } });
    assert.equal(model.headers.get('access-control-allow-origin'), 'https://app.example.org');
  });

  it('another origin, or a server without ERI_CORS_ORIGINS, gets no CORS headers (the browser keeps the answer from the page)', async () => {
    const other = await fetch(`${t.url}/v1/model`, { headers: { origin: 'https://evil.example.net' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const none = await fetch(`${plain.url}/v1/model`, { headers: { origin: ALLOWED } });
    assert.equal(none.headers.get('access-control-allow-origin'), null);
    const preflight = await fetch(`${plain.url}/v1/sessions`, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'GET' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  });
});

it('ERI_CORS_ORIGINS takes origins only: a path or a scheme other than http(s) is refused at start', () => {
  const dev = { insecureDev: true };
  assert.deepEqual(loadServerConfig({ ERI_CORS_ORIGINS: '*' }, dev).corsOrigins, ['*']);
  assert.deepEqual(loadServerConfig({}, dev).corsOrigins, []);
  for (const bad of ['https://x.example.org/app', 'ftp://x.example.org', 'x.example.org'])
    assert.throws(() => loadServerConfig({ ERI_CORS_ORIGINS: bad }, dev), /CORS origin/);
});
