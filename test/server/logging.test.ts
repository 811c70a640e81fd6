import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { IngestClient } from '../../packages/client/src/index.js';
import { initRandomPackage } from '../../src/model/package-tools.js';
import { CLI, withTempDir } from '../helpers.js';
import { mediasoupSkip, spawnServe, startServer } from '../server-harness.js';

/**
 * Logs are records, not prose: JSON lines with a level, the node, the request id of a request and the
 * session and room of a session; pretty-printed only when asked (LOG_FORMAT=pretty) or at a terminal.
 */

it('request and session records carry their ids; every record its level and node', {
  skip: mediasoupSkip(),
}, async () => {
  const t = await startServer();
  try {
    const res = await fetch(`${t.url}/v1/sessions/nobody`, {
      headers: { 'x-request-id': 'req-from-proxy-1' },
    });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-request-id'), 'req-from-proxy-1', 'the caller’s id is kept and echoed');
    const own = await fetch(`${t.url}/v1/sessions`);
    const ownId = own.headers.get('x-request-id');
    assert.match(ownId ?? '', /^[0-9a-f-]{36}$/, 'one is made when the caller sent none');

    const client = await IngestClient.connect(t.url);
    const ended = new Promise<void>((resolve) => {
      client.messages$.subscribe((m) => {
        if (m.type === 'session.ended') resolve();
      });
    });
    client.start('log-room', { sessionId: 'log-1' });
    await sleep(300);
    client.end();
    await ended;
    client.close();
    await sleep(100);

    for (const r of t.records) {
      assert.ok(['debug', 'info', 'warn', 'error'].includes(String(r.level)), JSON.stringify(r));
      assert.equal(r.node, 'test');
      assert.equal(typeof r.time, 'string');
    }
    const request = t.records.find((r) => r.requestId === 'req-from-proxy-1' && r.msg === 'request');
    assert.deepEqual(
      { method: request?.method, path: request?.path, status: request?.status },
      { method: 'GET', path: '/v1/sessions/nobody', status: 404 },
    );
    assert.ok(t.records.some((r) => r.requestId === ownId));
    const session = t.records.filter((r) => r.session === 'log-1');
    assert.ok(
      session.some((r) => /started/.test(String(r.msg)) && r.room === 'log-room'),
      JSON.stringify(session),
    );
    const end = session.find((r) => /ended/.test(String(r.msg)));
    assert.equal(end?.reason, 'normal');
    assert.equal(typeof (end?.stats as { steps?: unknown } | undefined)?.steps, 'number');
  } finally {
    await t.stop();
  }
});

/** `eri serve`'s stderr until it listens, then a request, then its stderr so far. */
async function serveOutput(env: Record<string, string>): Promise<string> {
  return withTempDir(async (dir) => {
    await initRandomPackage(join(dir, 'model'), { seed: 1 });
    const { child, url, output } = await spawnServe(join(dir, 'model'), env);
    try {
      await fetch(`${url}/v1/sessions`);
      await sleep(300);
      return output();
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  });
}

it('eri serve writes JSON lines when not at a terminal, and readable lines with LOG_FORMAT=pretty', {
  skip: mediasoupSkip(),
}, async () => {
  const json = (await serveOutput({})).trim().split('\n');
  for (const line of json) {
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.ok(record.level && record.node && record.msg, line);
  }
  assert.ok(json.some((l) => (JSON.parse(l) as { msg: string }).msg.includes('INSECURE DEV MODE')));
  const pretty = await serveOutput({ LOG_FORMAT: 'pretty' });
  assert.match(pretty, /INFO.*listening on http/);
  assert.match(pretty, /WARN.*INSECURE DEV MODE/);
  assert.ok(
    !pretty
      .trim()
      .split('\n')
      .some((l) => l.startsWith('{')),
    'no JSON when pretty was asked for',
  );
});

it('a LOG_LEVEL that is not a level is refused with a typed error, before anything starts', () => {
  const run = spawnSync(process.execPath, [CLI, 'serve', '--insecure-dev', '--port', '0'], {
    env: { ...process.env, LOG_LEVEL: 'loud' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /ERI_ERR_INVALID_ARGUMENT.*LOG_LEVEL/);
});
