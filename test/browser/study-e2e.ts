import { readFile, writeFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { launchChromium } from '../../src/bench/chromium.js';
import type { Estimate } from '../../src/contracts/estimate.js';
import { startServer } from '../server-harness.js';

/**
 * Run by browser.test.ts in a loopback-only network namespace: a study with a 20 s stimulus, two viewer
 * pages in headless Chromium (fake camera and microphone from a clip) joining at different times; A
 * waits before pressing play, pauses, seeks back and plays on; B plays straight through, in edge mode
 * (its features computed in its page, its stimulus events on the ingest connection). Screenshots of
 * the viewer page and the study view; the estimates, the timeline and its CSV as JSON.
 *
 * argv: <stimulus.webm> <y4m> <wav> <result.json> <viewer.png> <study.png>
 */

const [stimulus, y4m, wav, resultPath, viewerShot, studyShot] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const t = await startServer({ strideSeconds: 1 });
const estimates: Estimate[] = [];
t.server.bus.events$.subscribe((e) => {
  if (e.kind === 'estimate') estimates.push(e.estimate);
});
const browser = await launchChromium({
  camera: { y4m, wav },
  extraArgs: ['--autoplay-policy=no-user-gesture-required'],
});

const player = (page: Page, action: string) =>
  page.evaluate(`(() => { const v = document.getElementById('stimulus'); ${action} })()`);
let error: string | undefined;
let timeline: unknown;
let csv = '';
let viewerModes = '';
/** The player events of A's page that send a `play` marker (`playing`: after each play, seek or stall). */
let aPlays = 0;
const studyId: string = await (async () => {
  const created = await fetch(`${t.url}/v1/studies`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Trailer test', rooms: ['trailer'], windowSeconds: 3 }),
  });
  const id = ((await created.json()) as { study: { id: string } }).study.id;
  const up = await fetch(`${t.url}/v1/studies/${id}/stimulus`, {
    method: 'PUT',
    headers: { 'content-type': 'video/webm' },
    body: await readFile(stimulus),
  });
  if (!up.ok) throw new Error(`upload: ${up.status} ${await up.text()}`);
  return id;
})();
const sessions: Record<string, string> = {};
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const open = async (name: string, analysis: 'server' | 'edge') => {
    const page = await context.newPage();
    const edge = analysis === 'edge' ? '&analysis=edge' : '';
    await page.goto(`${t.url}/watch?study=${studyId}&room=trailer${edge}&autostart=1`);
    await page.waitForSelector('#viewing[data-published="true"]', { timeout: 20_000 });
    await page.waitForFunction(`document.getElementById('stimulus').readyState >= 2`, undefined, {
      timeout: 10_000,
    });
    sessions[name] = (await page.getAttribute('#viewing', 'data-session')) ?? '';
    await page.evaluate(`{
      const w = window;
      w.__plays = 0;
      document.getElementById('stimulus').addEventListener('playing', () => w.__plays++);
    }`);
    return page;
  };
  const a = await open('A', 'server');
  await a.waitForTimeout(3000); // measured, but the stimulus has not started: nothing attributed
  await player(a, 'v.play();');
  await a.waitForTimeout(4000);
  const b = await open('B', 'edge'); // joins later, on its own wall clock
  await player(b, 'v.play();');
  await a.waitForTimeout(3000);
  await a.screenshot({ path: viewerShot });
  await player(a, 'v.pause();');
  await a.waitForTimeout(3000); // paused: not attributed
  await player(a, 'v.currentTime = 2; v.play();');
  await a.waitForTimeout(6000);
  aPlays = Number(await a.evaluate('window.__plays'));
  for (const page of [a, b]) await page.click('#stop');
  await a.waitForTimeout(2500);
  const study = await context.newPage();
  await study.goto(`${t.url}/study?study=${studyId}`);
  await study.waitForSelector('#summary[data-viewers="2"]', { timeout: 10_000 });
  await study.waitForTimeout(1500);
  await study.screenshot({ path: studyShot, fullPage: true });
  viewerModes = (await study.textContent('#viewer-modes')) ?? '';
  timeline = await (await fetch(`${t.url}/v1/studies/${studyId}/timeline`)).json();
  csv = await (await fetch(`${t.url}/v1/studies/${studyId}/timeline?format=csv`)).text();
} catch (e) {
  error = (e as Error).stack ?? (e as Error).message;
} finally {
  await browser.close();
}
await writeFile(
  resultPath,
  JSON.stringify(
    { error, studyId, sessions, estimates, timeline, csv, viewerModes, aPlays, logs: t.logs },
    null,
    2,
  ),
);
await t.stop();
process.exit(0);
