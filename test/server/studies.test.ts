import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { loadPreparedMedia, type PreparedMedia, prepareMedia } from '../../src/bench/load/media.js';
import { mintToken } from '../../src/cli/token.js';
import type { Estimate } from '../../src/contracts/estimate.js';
import { ingestMessage } from '../../src/contracts/ingest-protocol.js';
import { synthesizeClip } from '../../src/features/synthetic-clip.js';
import { StimulusClock } from '../../src/studies/stimulus-clock.js';
import { runEri, withTempDir } from '../helpers.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/**
 * Reaction studies without a browser: markers at known media times on the frame ingest, so every
 * estimate's stimulus position can be checked exactly; access to studies by scope; the export.
 */

it('the stimulus clock: nothing before play or while paused; play, seek and resume map media time', () => {
  const c = new StimulusClock(20);
  c.add({ event: 'play', position: 0, mediaTime: 1 });
  c.add({ event: 'pause', position: 2, mediaTime: 3 });
  c.add({ event: 'seek', position: 10, mediaTime: 4 });
  c.add({ event: 'play', position: 10, mediaTime: 4.5 });
  c.add({ event: 'ended', position: 20, mediaTime: 14.5 });
  assert.deepEqual(
    [0.5, 1, 2, 3.5, 4.2, 5, 14, 15].map((t) => c.positionAt(t)),
    [null, 0, 1, null, null, 10.5, 19.5, null],
  );
});

describe('studies over REST and the frame ingest', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  let media: PreparedMedia;
  let dir: string;
  let release: () => void = () => {};

  before(async () => {
    t = await startServer({ strideSeconds: 1 });
    await new Promise<void>((ready) => {
      void withTempDir(async (d) => {
        dir = d;
        await prepareMedia(await synthesizeClip(join(d, 'cam.mp4'), { seconds: 3 }), join(d, 'media'));
        media = await loadPreparedMedia(join(d, 'media'));
        await synthesizeClip(join(d, 'stimulus.mp4'), { seconds: 8 });
        ready();
        await new Promise<void>((done) => {
          release = done;
        });
      });
    });
  });
  after(async () => {
    release();
    await t?.stop();
  });

  it('markers place each estimate on the stimulus timeline; the audience curve and the export agree', async () => {
    const created = await fetch(`${t.url}/v1/studies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ad test', rooms: ['ad'], windowSeconds: 2 }),
    });
    assert.equal(created.status, 201);
    const { study, viewerLinks } = (await created.json()) as {
      study: { id: string };
      viewerLinks: Record<string, string>;
    };
    assert.match(viewerLinks.ad ?? '', /\/watch\?study=st-[0-9a-f]+&room=ad$/);
    const up = await fetch(`${t.url}/v1/studies/${study.id}/stimulus`, {
      method: 'PUT',
      headers: { 'content-type': 'video/mp4' },
      body: await readFile(join(dir, 'stimulus.mp4')),
    });
    assert.equal(up.status, 200);
    assert.ok(Math.abs(((await up.json()) as { study: { durationS: number } }).study.durationS - 8) < 0.2);
    // Range requests, for the player's seeking.
    const part = await fetch(`${t.url}/v1/studies/${study.id}/stimulus`, {
      headers: { range: 'bytes=0-99' },
    });
    assert.equal(part.status, 206);
    assert.equal((await part.arrayBuffer()).byteLength, 100);

    // One viewer over 7 s of media: play at 1 s, pause at 3 s (position 2), resume at 4 s, ended at 6.5 s.
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/v1/ingest`);
    const estimates: Estimate[] = [];
    const ended = new Promise<void>((resolve) => {
      ws.on('message', (d) => {
        const m = JSON.parse(String(d));
        if (m.type === 'estimate') estimates.push(m.data);
        if (m.type === 'session.ended') resolve();
      });
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', roomId: 'ad', sessionId: 'viewer-1', studyId: study.id }));
    const markers: Record<number, object> = {
      10: { event: 'play', position: 0, mediaTime: 1 },
      30: { event: 'pause', position: 2, mediaTime: 3 },
      40: { event: 'play', position: 2, mediaTime: 4 },
      65: { event: 'ended', position: 4.5, mediaTime: 6.5 },
    };
    const chunk = Math.round(media.sampleRate / media.rateHz) * 2;
    for (let step = 0; step < 70; step++) {
      if (markers[step]) ws.send(JSON.stringify({ type: 'stimulus', ...markers[step] }));
      const tt = step / 10;
      ws.send(ingestMessage(1, tt, media.frames[step % media.frames.length] as Buffer));
      ws.send(
        ingestMessage(
          2,
          tt,
          media.audio.subarray(
            (step * chunk) % (media.audio.length - chunk),
            ((step * chunk) % (media.audio.length - chunk)) + chunk,
          ),
        ),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    ws.send(JSON.stringify({ type: 'end' }));
    await ended;
    ws.close();

    // The history the timeline reads is what the viewer's own connection got: one stamped shape.
    const history = (await (await fetch(`${t.url}/v1/sessions/viewer-1/estimates`)).json()) as {
      estimates: Estimate[];
    };
    assert.deepEqual(history.estimates, estimates);
    const running = history.estimates.filter((e) => !e.final);
    assert.ok(running.length >= 5, `${running.length} running estimates`);
    for (const e of running) {
      // A marker takes effect at its own media time: play at 1 s, pause at 3 s, play at 4 s, ended at 6.5 s.
      const w = e.windowEnd;
      const expected = w < 1 || (w >= 3 && w < 4) || w >= 6.5 ? null : w < 3 ? w - 1 : 2 + (w - 4);
      assert.equal(e.stimulus?.studyId, study.id);
      if (expected === null) assert.equal(e.stimulus?.position, null, `window end ${e.windowEnd}`);
      else
        assert.ok(
          Math.abs((e.stimulus?.position ?? -1) - expected) < 1e-6,
          `window end ${e.windowEnd}: ${e.stimulus?.position} vs ${expected}`,
        );
    }

    const { timeline } = (await (await fetch(`${t.url}/v1/studies/${study.id}/timeline`)).json()) as {
      timeline: {
        audience: { second: number; viewers: number; mean: number[] }[];
        viewers: { sessionId: string; seconds: Record<string, number[]> }[];
      };
    };
    assert.deepEqual(
      timeline.viewers.map((v) => v.sessionId),
      ['viewer-1'],
    );
    const watched = Object.keys(timeline.viewers[0]?.seconds ?? {}).map(Number);
    assert.ok(watched.includes(0) && watched.includes(3), `seconds ${watched}`);
    assert.equal(timeline.audience.length, 8, 'one entry per second of the 8 s stimulus');
    for (const s of timeline.audience) assert.equal(s.viewers, watched.includes(s.second) ? 1 : 0);
    // The export (API CSV and eri study export) holds exactly those numbers.
    const out = join(dir, 'export');
    const r = await runEri(['study', 'export', study.id, '--server', t.url, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const csv = await readFile(join(out, `${study.id}.csv`), 'utf8');
    assert.equal(csv, await (await fetch(`${t.url}/v1/studies/${study.id}/timeline?format=csv`)).text());
    for (const row of csv.trim().split('\n').slice(1)) {
      const [session, , second, ...values] = row.split(',');
      const api = timeline.viewers.find((v) => v.sessionId === session)?.seconds[second as string] ?? [];
      for (const [j, v] of values.entries()) assert.ok(Math.abs(Number(v) - (api[j] as number)) < 1e-6);
    }
    assert.match(await readFile(join(out, `${study.id}-report.svg`), 'utf8'), /Ad test/);
    const thumb = await fetch(`${t.url}/v1/studies/${study.id}/thumbnail?at=2.5`);
    assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
  });
});

describe('studies and scopes', { skip: mediasoupSkip() }, () => {
  it('admin manages; viewers see the study, not its results; observers of another room see nothing', async () => {
    const secret = 'study-secret-of-at-least-32-characters!';
    const t = await startServer({ jwtSecret: secret });
    const as = async (scope: string) => ({
      authorization: `Bearer ${await mintToken({ secret, scope, ttlSeconds: 600 })}`,
    });
    try {
      const viewer = await as('publish:ad');
      assert.equal(
        (
          await fetch(`${t.url}/v1/studies`, {
            method: 'POST',
            headers: { ...viewer, 'content-type': 'application/json' },
            body: '{"name":"x","rooms":["ad"]}',
          })
        ).status,
        403,
      );
      const created = await fetch(`${t.url}/v1/studies`, {
        method: 'POST',
        headers: { ...(await as('admin')), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Scoped', rooms: ['ad'] }),
      });
      const { study } = (await created.json()) as { study: { id: string } };
      assert.equal((await fetch(`${t.url}/v1/studies/${study.id}`, { headers: viewer })).status, 200);
      assert.equal(
        (await fetch(`${t.url}/v1/studies/${study.id}/timeline`, { headers: viewer })).status,
        404,
      );
      assert.equal(
        (await fetch(`${t.url}/v1/studies/${study.id}/timeline`, { headers: await as('subscribe:ad') }))
          .status,
        200,
      );
      const stranger = await as('subscribe:other publish:other');
      for (const path of ['', '/timeline', '/stimulus', '/report.svg'])
        assert.equal(
          (await fetch(`${t.url}/v1/studies/${study.id}${path}`, { headers: stranger })).status,
          404,
          path,
        );
      assert.deepEqual(
        ((await (await fetch(`${t.url}/v1/studies`, { headers: stranger })).json()) as { studies: unknown[] })
          .studies,
        [],
      );
    } finally {
      await t.stop();
    }
  });
});
