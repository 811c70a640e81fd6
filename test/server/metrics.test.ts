import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { IngestClient } from '../../packages/client/src/index.js';
import { mintToken } from '../../src/cli/token.js';
import { REPO_ROOT } from '../helpers.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/**
 * /metrics as Prometheus reads it: after a real session, a refused connection and a typed error, the
 * exposition passes Prometheus' own `promtool check metrics`, counts are counters, latencies are
 * histograms, and the metrics scope reads it and nothing else. The Grafana dashboard and
 * docs/operations.md name only metrics that exist, and the docs name every one.
 */

const SECRET = 'metrics-secret-of-at-least-32-characters!';
const token = (scope: string) => mintToken({ secret: SECRET, scope, ttlSeconds: 600, subject: 'm' });
const promtool = spawnSync('promtool', ['--version']).status === 0;

/** Metric family names (without the histogram suffixes) in an exposition. */
function families(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]));
}

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : Number.NaN;
}

describe('metrics', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  let text = '';
  let scrape: string;

  before(async () => {
    t = await startServer({ jwtSecret: SECRET });
    scrape = await token('metrics');
    const publish = await token('publish:m-room');
    const subscribe = await token('subscribe:m-room');
    // A refused upgrade (no token) and a subscriber that gets the session's estimates.
    const refused = new WebSocket(`${t.url.replace(/^http/, 'ws')}/v1/stream`);
    await new Promise((resolve) => refused.once('error', resolve).once('close', resolve));
    const sub = new WebSocket(`${t.url.replace(/^http/, 'ws')}/v1/stream?access_token=${subscribe}`);
    await new Promise((resolve) => sub.once('open', resolve));
    sub.send(JSON.stringify({ type: 'subscribe', id: 1, target: { roomId: 'm-room' } }));
    // A real session: 3 s of audio in real time, a malformed control message, then its end.
    const client = await IngestClient.connect(t.url, { token: publish });
    const ended = new Promise<void>((resolve) => {
      client.messages$.subscribe((m) => {
        if (m.type === 'session.ended') resolve();
      });
    });
    client.start('m-room', { sessionId: 'm-1' });
    await sleep(200);
    client.raw('not json');
    const start = Date.now();
    for (let k = 0; k < 30; k++) {
      const wait = start + k * 100 - Date.now();
      if (wait > 0) await sleep(wait);
      client.audio(
        k / 10,
        new Float32Array(1600).map((_, i) => 0.1 * Math.sin(i / 5)),
      );
    }
    await sleep(1200);
    client.end();
    await ended;
    await sleep(300);
    const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${scrape}` } });
    assert.equal(res.status, 200);
    text = await res.text();
    sub.close();
    client.close();
  });
  after(() => t?.stop());

  it('passes promtool check metrics', {
    skip: promtool ? false : 'promtool not installed (apt install prometheus)',
  }, () => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), '', 'no lint findings');
  });

  it('counts are counters, latencies histograms, process metrics under their standard names', () => {
    const f = families(text);
    for (const name of [
      'eri_steps_total',
      'eri_dropped_face_steps_total',
      'eri_dropped_estimates_total',
      'eri_estimates_total',
      'eri_errors_total',
      'eri_connections_refused_total',
    ])
      assert.equal(f.get(name), 'counter', name);
    for (const name of [
      'eri_capture_to_features_seconds',
      'eri_estimate_latency_seconds',
      'eri_delivery_latency_seconds',
    ])
      assert.equal(f.get(name), 'histogram', name);
    assert.equal(f.get('process_cpu_seconds_total'), 'counter');
    assert.ok(![...f.keys()].some((n) => n.startsWith('eri_process_')), 'no doubled prefix');
    assert.match(
      text,
      /^eri_build_info\{version="[^"]+",model="[^"]+",model_version="[^"]+",feature_spec="[^"]+",node_version="v\d+/m,
    );
  });

  it('what happened is counted: steps, estimates, latencies, the refusal and the error', () => {
    assert.ok(sample(text, 'eri_steps_total') >= 25, `steps ${sample(text, 'eri_steps_total')}`);
    assert.ok(sample(text, 'eri_capture_to_features_seconds_count') >= 25);
    assert.ok(sample(text, 'eri_estimates_total') >= 2);
    assert.ok(sample(text, 'eri_estimate_latency_seconds_count') >= 2);
    assert.ok(sample(text, 'eri_delivery_latency_seconds_count') >= 2, 'the subscriber got them');
    assert.equal(
      sample(text, 'eri_connections_refused_total{endpoint="/v1/stream",code="ERI_ERR_UNAUTHENTICATED"}'),
      1,
    );
    assert.equal(sample(text, 'eri_errors_total{surface="ingest",code="ERI_ERR_MALFORMED_MESSAGE"}'), 1);
  });

  it('the metrics scope scrapes and can do nothing else; other scopes cannot scrape', async () => {
    const h = (jwt: string) => ({ headers: { authorization: `Bearer ${jwt}` } });
    // The list covers what the token may read: nothing, though session m-1 exists.
    const list = await fetch(`${t.url}/v1/sessions`, h(scrape));
    assert.deepEqual(((await list.json()) as { sessions: unknown[] }).sessions, []);
    assert.equal((await fetch(`${t.url}/v1/sessions/m-1`, h(scrape))).status, 404);
    const studies = await fetch(`${t.url}/v1/studies`, h(scrape));
    assert.deepEqual(((await studies.json()) as { studies: unknown[] }).studies, []);
    const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/v1/stream?access_token=${scrape}`);
    ws.on('error', () => {});
    const closeCode = await new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    assert.equal(closeCode, 4403, 'a scrape token cannot subscribe');
    assert.equal((await fetch(`${t.url}/metrics`, h(await token('subscribe:*')))).status, 403);
    assert.equal((await fetch(`${t.url}/metrics`, h(await token('admin')))).status, 200);
  });

  it('the Grafana dashboard and docs/operations.md name only metrics that exist; the docs name every eri_ one', async () => {
    const f = families(text);
    const exists = (name: string) =>
      f.has(name) || f.has(name.replace(/_(bucket|sum|count)$/, '')) || /^eri_redis_/.test(name);
    const dashboard = await readFile(join(REPO_ROOT, 'deploy', 'grafana', 'eri-stream.json'), 'utf8');
    const used = new Set(
      [...dashboard.matchAll(/\b((?:eri|process|nodejs)_[a-z_]+)\b/g)].map((m) => m[1] as string),
    );
    assert.ok(used.size >= 10, 'the dashboard uses the metrics');
    for (const name of used) assert.ok(exists(name), `dashboard: ${name} does not exist`);
    const doc = await readFile(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/`((?:eri)_[a-z_]+)`/g)].map((m) => m[1] as string));
    for (const name of documented) assert.ok(exists(name), `docs: ${name} does not exist`);
    for (const name of f.keys())
      if (name.startsWith('eri_'))
        assert.ok(documented.has(name), `docs/operations.md does not name ${name}`);
  });
});
