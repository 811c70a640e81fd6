import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WebSocket } from 'ws';
import { IngestClient } from '../../packages/client/src/index.js';
import type { Estimate } from '../../src/contracts/estimate.js';
import { decodeMedia } from '../../src/features/decode.js';
import { synthesizeClip } from '../../src/features/synthetic-clip.js';
import { withTempDir } from '../helpers.js';
import { ffmpeg, testMedia } from '../media.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A clip's frames as JPEGs (10 per second) and its audio as 100 ms chunks. */
async function framesAndAudio(
  clip: string,
  dir: string,
): Promise<{ jpegs: Buffer[]; audio: Float32Array[] }> {
  await ffmpeg('-i', clip, '-vf', 'fps=10,scale=640:-2', '-q:v', '4', join(dir, 'f%04d.jpg'));
  const names = (await readdir(dir)).filter((n) => n.endsWith('.jpg')).sort();
  const jpegs = await Promise.all(names.map((n) => readFile(join(dir, n))));
  const audio: Float32Array[] = [];
  for await (const step of decodeMedia(clip, { rateHz: 10, width: 32, height: 24 })) audio.push(step.audio);
  return { jpegs, audio };
}

describe('WebSocket frame ingest', { skip: mediasoupSkip() }, () => {
  let t: TestServer;

  before(async () => {
    t = await startServer({ maxFrameRate: 15 });
  });
  after(() => t?.stop());

  it('JPEG frames and PCM with timestamps, sent in real time, become estimates with a final one', async () => {
    await withTempDir(async (dir) => {
      const media = testMedia('OpenTalker_video-retalking/face/1.mp4');
      let clip = media.path;
      if (media.skip) {
        clip = await synthesizeClip(join(dir, 'synthetic.mkv'), { seconds: 4 });
      }
      const { jpegs, audio } = await framesAndAudio(clip, dir);
      const client = await IngestClient.connect(t.url);
      const messages: Record<string, unknown>[] = [];
      client.messages$.subscribe((m) => messages.push(m));
      client.start('ingest-room', { sessionId: 'ingest-1' });
      const start = Date.now();
      for (let k = 0; k < Math.max(jpegs.length, audio.length); k++) {
        const wait = start + k * 100 - Date.now();
        if (wait > 0) await sleep(wait);
        if (jpegs[k]) client.frame(k / 10, jpegs[k] as Buffer);
        if (audio[k]) client.audio(k / 10, audio[k] as Float32Array);
      }
      await sleep(1500);
      client.end();
      const deadline = Date.now() + 10_000;
      while (!messages.some((m) => m.type === 'session.ended') && Date.now() < deadline) await sleep(50);
      assert.equal(messages[0]?.type, 'started');
      const estimates = messages.filter((m) => m.type === 'estimate');
      const final = estimates.map((m) => m.data as Estimate).find((e) => e.final);
      assert.ok(estimates.length >= 3, `${estimates.length} estimates`);
      assert.ok(final, 'a final estimate');
      assert.equal(
        messages.filter((m) => m.type === 'error').length,
        0,
        JSON.stringify(messages.filter((m) => m.type === 'error')),
      );
      if (!media.skip) assert.ok(final.coverage.face > 0.8, `face coverage ${final.coverage.face}`);
      assert.equal(messages.at(-1)?.type, 'session.ended');
      client.close();
    });
  });

  it('an ended session id is not started again: the second run is refused, so history, final and resume stay one run', async () => {
    const run = async (sessionId: string) => {
      const client = await IngestClient.connect(t.url);
      const messages: Record<string, unknown>[] = [];
      client.messages$.subscribe((m) => messages.push(m));
      client.start('reuse-room', { sessionId: sessionId });
      client.end(); // sent at once: the session ends as soon as it exists
      const deadline = Date.now() + 10_000;
      while (!messages.some((m) => m.type === 'session.ended' || m.type === 'error') && Date.now() < deadline)
        await sleep(20);
      client.close();
      return messages;
    };
    const first = await run('reused');
    assert.ok(
      first.some((m) => m.type === 'session.ended'),
      JSON.stringify(first),
    );
    const before = (await (await fetch(`${t.url}/v1/sessions/reused`)).json()) as Record<string, unknown>;
    const again = await run('reused');
    assert.deepEqual(
      again.map((m) => [m.type, m.code]),
      [['error', 'ERI_ERR_INVALID_STATE']],
    );
    assert.match(String(again[0]?.message), /was used before/);
    assert.deepEqual(await (await fetch(`${t.url}/v1/sessions/reused`)).json(), before, 'history untouched');
    // The refusal gave back what the start took: a new id on a new connection starts.
    assert.ok((await run('fresh')).some((m) => m.type === 'started'));
  });

  it('the frame decoder killed mid-session: the client is told, a new one decodes the next frames', async () => {
    const jpeg = (
      await promisify(execFile)(
        'ffmpeg',
        [
          '-v',
          'error',
          '-f',
          'lavfi',
          '-i',
          'testsrc=size=320x240',
          '-frames:v',
          '1',
          '-f',
          'mjpeg',
          'pipe:1',
        ],
        { encoding: 'buffer' },
      )
    ).stdout as Buffer;
    const client = await IngestClient.connect(t.url);
    const messages: Record<string, unknown>[] = [];
    client.messages$.subscribe((m) => messages.push(m));
    client.start('ingest-room', { sessionId: 'ingest-3' });
    let k = 0;
    const send = async (seconds: number) => {
      for (const until = k + seconds * 10; k < until; k++) {
        client.frame(k / 10, jpeg);
        client.audio(k / 10, new Float32Array(1600));
        await sleep(100);
      }
    };
    await send(1.5);
    const decoder = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .find((line) => line.includes('mjpeg'));
    assert.ok(decoder, 'the session has its JPEG decoder');
    process.kill(Number(decoder.trim().split(/\s+/)[0]), 'SIGKILL');
    const framed = () => {
      const stats = t.server.registry.get('ingest-3')?.stats;
      return stats ? stats.steps - stats.stepsWithoutFrame : 0;
    };
    await send(0.5);
    const before = framed();
    await send(2);
    const errors = messages.filter((m) => m.type === 'error') as { code: string; message: string }[];
    assert.ok(
      errors.some((e) => e.code === 'ERI_ERR_MEDIA_WORKER' && /restarted/.test(e.message)),
      JSON.stringify(errors),
    );
    assert.equal(t.server.registry.get('ingest-3')?.state, 'running');
    assert.ok(framed() >= before + 10, `steps with a frame: ${before} -> ${framed()}`);
    client.close();
  });

  it('bad media gets typed errors and the session carries on; too many frames per second are refused', async () => {
    const client = await IngestClient.connect(t.url);
    const messages: Record<string, unknown>[] = [];
    client.messages$.subscribe((m) => messages.push(m));
    client.raw(Buffer.from([1, 2, 3]));
    client.start('ingest-room', { sessionId: 'ingest-2' });
    client.raw('{"type":"start","roomId":"x"}');
    client.raw(Buffer.alloc(10));
    client.frame(0.1, Buffer.from('not a jpeg at all'));
    client.raw(Buffer.concat([Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(8)]));
    client.audio(Number.NaN, new Float32Array(10));
    client.raw('{"type":"dance"}');
    const jpeg = await promisify(execFile)(
      'ffmpeg',
      ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48', '-frames:v', '1', '-f', 'mjpeg', 'pipe:1'],
      { encoding: 'buffer' },
    );
    for (let i = 0; i < 40; i++) client.frame(0.2 + i * 0.01, jpeg.stdout as Buffer);
    await sleep(800);
    const errors = messages.filter((m) => m.type === 'error') as { code: string; message: string }[];
    const codes = errors.map((e) => e.code);
    assert.equal(codes[0], 'ERI_ERR_INVALID_STATE', 'media before start');
    for (const code of ['ERI_ERR_MALFORMED_MESSAGE', 'ERI_ERR_LIMIT'])
      assert.ok(codes.includes(code), `saw ${code}: ${codes.join(',')}`);
    assert.ok(errors.some((e) => /frames per second/.test(e.message)));
    assert.equal(t.server.registry.get('ingest-2')?.state, 'running');
    client.close();
  });

  it('media time far ahead of the session is refused at once: no day of steps, memory and health intact', async () => {
    const client = await IngestClient.connect(t.url);
    const messages: Record<string, unknown>[] = [];
    client.messages$.subscribe((m) => messages.push(m));
    client.start('ingest-room', { sessionId: 'ingest-ahead' });
    await sleep(300);
    const rss = process.memoryUsage().rss;
    // One 3.2 KB PCM chunk stamped a day minus a second in: before, the server made steps for a day.
    client.audio(86_399, new Float32Array(1600));
    client.audio(0, new Float32Array(1600));
    await sleep(500);
    const started = performance.now();
    const health = await fetch(`${t.url}/healthz`);
    assert.equal(health.status, 200);
    assert.ok(performance.now() - started < 2000, 'the server still answers');
    const errors = messages.filter((m) => m.type === 'error') as { code: string; message: string }[];
    assert.ok(
      errors.some((e) => e.code === 'ERI_ERR_LIMIT' && /ahead of the session/.test(e.message)),
      JSON.stringify(errors),
    );
    const session = t.server.registry.get('ingest-ahead');
    assert.equal(session?.state, 'running');
    assert.ok((session?.stats.steps ?? 0) < 50, `steps so far: ${session?.stats.steps}`);
    assert.ok(
      process.memoryUsage().rss - rss < 200 * 1024 * 1024,
      'no memory in proportion to the time sent',
    );
    client.close();
  });
});

describe('frame ingest heartbeat', { skip: mediasoupSkip() }, () => {
  it('a client that stops answering pings loses its session, as on signalling', async () => {
    const t = await startServer({ publisherTimeoutMs: 600 });
    try {
      const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/v1/ingest`, { autoPong: false });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send(JSON.stringify({ type: 'start', roomId: 'quiet-room', sessionId: 'frozen' }));
      await sleep(300);
      assert.equal(t.server.registry.get('frozen')?.state, 'running');
      const closed = new Promise((resolve) => ws.once('close', () => resolve(true)));
      assert.equal(await Promise.race([closed, sleep(5000).then(() => false)]), true, 'closed by the server');
      await sleep(200);
      assert.notEqual(t.server.registry.get('frozen')?.state, 'running', 'the session ended');
    } finally {
      await t.stop();
    }
  });
});
