import { writeFile } from 'node:fs/promises';
import { publishFile } from '../../src/cli/publish.js';
import { startServer } from '../server-harness.js';
import { launchChromium } from './chromium.js';

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
const browser = await launchChromium();

let error: string | undefined;
type Snapshot = { viewers: string[]; rows: string[]; points: number };
const snapshots: Snapshot[] = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${t.url}/dashboard?room=dash`);
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
} catch (e) {
  error = (e as Error).message;
} finally {
  await browser.close();
}
await writeFile(resultPath, JSON.stringify({ error, snapshots, logs: t.logs }, null, 2));
await t.stop();
process.exit(0);
