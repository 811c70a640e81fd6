import { writeFile } from 'node:fs/promises';
import { launchChromium } from '../../src/bench/chromium.js';
import { publishFile } from '../../src/cli/publish.js';
import { startServer } from '../server-harness.js';

/**
 * Run by browser.test.ts in a loopback-only network namespace: a server, the dashboard open in headless
 * Chromium on room "dash", two `eri publish` sessions into that room; a screenshot while both run, and
 * what the page showed, as JSON.
 *
 * argv: <clipA> <clipB> <result.json> <screenshot.png>
 */

/** Evaluated in the page (a string, so this Node-typed file needs no DOM types). */
const SNAPSHOT = `(() => ({
  viewers: [...document.querySelectorAll('#viewers tr td:first-child')].map((td) => td.textContent || ''),
  rows: [...document.querySelectorAll('#viewers tr')].map((tr) => tr.textContent || ''),
  points: document.querySelectorAll('#charts figure').length,
}))()`;

const [clipA, clipB, resultPath, screenshotPath] = process.argv.slice(2) as [string, string, string, string];
const t = await startServer({ windowSeconds: 30, strideSeconds: 1 });
const secured = await startServer({ jwtSecret: 'dashboard-e2e-secret-of-at-least-32-chars' });
let sessions: string[] = [];
let publishHref = '';
let historyHref = '';
let historySummary = '';
let refusal = '';
const browser = await launchChromium();

let error: string | undefined;
type Snapshot = { viewers: string[]; rows: string[]; points: number };
const snapshots: Snapshot[] = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // Insecure dev mode takes any token: this one only shows that links and requests keep it.
  await page.goto(`${t.url}/dashboard?room=dash&token=kept`);
  await page.waitForSelector('#status[data-kind="ok"]', { timeout: 10_000 });
  const publishing = Promise.all([
    publishFile(clipA, { server: t.url, room: 'dash', session: 'viewer-a' }),
    publishFile(clipB, { server: t.url, room: 'dash', session: 'viewer-b' }),
  ]);
  for (let i = 0; i < 3; i++) {
    await page.waitForTimeout(2500);
    snapshots.push((await page.evaluate(SNAPSHOT)) as Snapshot);
  }
  await page.screenshot({ path: screenshotPath });
  await publishing;
  await page.waitForTimeout(1500);
  snapshots.push((await page.evaluate(SNAPSHOT)) as Snapshot);
  // After the fact: the room's sessions, and an ended one's history.
  await page.waitForFunction(`document.querySelectorAll('#sessions a').length >= 2`, null, {
    timeout: 10_000,
  });
  sessions = (await page.evaluate(
    `[...document.querySelectorAll('#sessions tr')].map((tr) => tr.textContent || '')`,
  )) as string[];
  publishHref = (await page.getAttribute('#publish-link', 'href')) ?? '';
  const link = page.locator('#sessions a').first();
  historyHref = (await link.getAttribute('href')) ?? '';
  await link.click();
  await page.waitForSelector('#history-chart canvas', { timeout: 10_000 });
  historySummary = (await page.textContent('#history-summary')) ?? '';
  await page.screenshot({ path: screenshotPath.replace(/\.png$/, '-history.png') });
  // A refused token, as a browser sees it: the reason on the page, not a silent retry.
  await page.goto(`${secured.url}/dashboard?room=dash&token=not-a-jwt`);
  await page.waitForSelector('#status[data-kind="error"]', { timeout: 10_000 });
  refusal = (await page.textContent('#status')) ?? '';
} catch (e) {
  error = (e as Error).message;
} finally {
  await browser.close();
}
await writeFile(
  resultPath,
  JSON.stringify(
    { error, snapshots, sessions, publishHref, historyHref, historySummary, refusal, logs: t.logs },
    null,
    2,
  ),
);
await t.stop();
await secured.stop();
process.exit(0);
