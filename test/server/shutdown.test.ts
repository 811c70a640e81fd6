import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import WebSocket from 'ws';
import { loadPreparedMedia, prepareMedia } from '../../src/bench/load/media.js';
import { publishSession } from '../../src/bench/load/run-scenarios.js';
import { synthesizeClip } from '../../src/features/synthetic-clip.js';
import { initRandomPackage } from '../../src/model/package-tools.js';
import { CLI, withTempDir } from '../helpers.js';
import { mediasoupSkip } from '../server-harness.js';

/**
 * SIGTERM under load: an `eri serve` process with publishers and subscribers. Every subscriber gets each
 * session's final estimate and its end (reason 'shutdown'), then a 1001 close; the process exits 0 within
 * its deadline.
 */

const DEADLINE_MS = 8000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('SIGTERM: final estimates and closes reach everyone, and the process exits in time', {
  skip: mediasoupSkip(),
  timeout: 120_000,
}, async () => {
  await withTempDir(async (dir) => {
    await initRandomPackage(join(dir, 'model'), { seed: 1 });
    await prepareMedia(await synthesizeClip(join(dir, 'clip.mp4'), { seconds: 4 }), join(dir, 'media'));
    const media = await loadPreparedMedia(join(dir, 'media'));
    const server = spawn(
      process.execPath,
      [CLI, 'serve', '--insecure-dev', '--port', '0', '--model', join(dir, 'model')],
      {
        env: {
          ...process.env,
          ERI_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS),
          ERI_DATA_DIR: join(dir, 'data'),
          ERI_MEDIA_WORKERS: '1',
          ERI_INFERENCE_WORKERS: '1',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let log = '';
    server.stderr?.setEncoding('utf8').on('data', (t: string) => {
      log += t;
    });
    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    try {
      const until = Date.now() + 60_000;
      while (!/listening on (http:\/\/\S+)/.test(log) && Date.now() < until) await sleep(100);
      const url = /listening on (http:\/\/\S+)/.exec(log)?.[1] as string;
      assert.ok(url, log);

      const subscribers = Array.from({ length: 3 }, () => {
        const messages: { type: string; data?: { sessionId?: string; final?: boolean; reason?: string } }[] =
          [];
        const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream`);
        ws.on('open', () =>
          ws.send(JSON.stringify({ type: 'subscribe', id: 1, target: { roomId: 'shut' } })),
        );
        ws.on('message', (d) => messages.push(JSON.parse(String(d))));
        const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
        return { messages, closed };
      });
      const sink = { captureToEstimateMs: [] as number[], estimates: 0, errors: [] as string[] };
      const publishing = ['p1', 'p2'].map((id) => publishSession(url, 'shut', id, 120, media, sink));
      // Under way: every subscriber has running estimates of both sessions.
      while (Date.now() < until) {
        const seen = subscribers.map(
          (s) => new Set(s.messages.filter((m) => m.type === 'estimate').map((m) => m.data?.sessionId)),
        );
        if (seen.every((s) => s.has('p1') && s.has('p2'))) break;
        await sleep(200);
      }

      const t0 = Date.now();
      server.kill('SIGTERM');
      const code = await exited;
      const took = Date.now() - t0;
      assert.equal(code, 0, log);
      assert.ok(took < DEADLINE_MS + 1000, `exited after ${took} ms`);
      await Promise.all(publishing);
      for (const [i, s] of subscribers.entries()) {
        assert.equal(await s.closed, 1001, `subscriber ${i} is told the server is going away`);
        for (const session of ['p1', 'p2']) {
          const own = s.messages.filter((m) => m.data?.sessionId === session);
          assert.ok(
            own.some((m) => m.type === 'estimate' && m.data?.final),
            `subscriber ${i} got ${session}'s final estimate`,
          );
          const ended = own.find((m) => m.type === 'session.ended');
          assert.equal(ended?.data?.reason, 'shutdown');
          assert.equal(own.at(-1)?.type, 'session.ended', 'the end comes last');
        }
      }
      assert.deepEqual(sink.errors, []);
      assert.match(log, /shutting down gracefully/);
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
    }
  });
});
