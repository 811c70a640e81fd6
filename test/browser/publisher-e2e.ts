import { writeFile } from 'node:fs/promises';
import type { Estimate } from '../../src/contracts/estimate.js';
import { startServer } from '../server-harness.js';
import { launchChromium } from './chromium.js';

/**
 * Run by browser.test.ts inside a network namespace with only loopback up (so every packet stays on
 * 127.0.0.1): starts a server, opens the publisher page in headless Debian Chromium with a fake camera
 * and microphone made from a clip, publishes for a while, stops, and writes what happened as JSON.
 *
 * argv: <y4m> <wav> <result.json> <screenshot.png> <seconds>
 */

const [y4m, wav, resultPath, screenshotPath, secondsArg] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const seconds = Number(secondsArg);
const t = await startServer({ windowSeconds: 30, strideSeconds: 1 });
const estimates: Estimate[] = [];
t.server.registry.events$.subscribe((e) => {
  if (e.type === 'estimate' && e.estimate.sessionId === 'browser-1') estimates.push(e.estimate);
});
const browser = await launchChromium({ camera: { y4m, wav } });

let error: string | undefined;
let pageText = '';
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  await page.goto(`${t.url}/publish?room=browser&session=browser-1&autostart=1`);
  const deadline = Date.now() + (seconds + 20) * 1000;
  while (Date.now() < deadline && estimates.filter((e) => !e.final).length < seconds)
    await page.waitForTimeout(250);
  await page.screenshot({ path: screenshotPath });
  pageText = (await page.locator('main').textContent()) ?? '';
  await page.click('#stop');
  while (Date.now() < deadline + 10_000 && !estimates.some((e) => e.final)) await page.waitForTimeout(250);
} catch (e) {
  error = (e as Error).message;
} finally {
  await browser.close();
}
await writeFile(resultPath, JSON.stringify({ estimates, error, pageText, logs: t.logs }, null, 2));
await t.stop();
process.exit(0);
