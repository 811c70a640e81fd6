import { writeFile } from 'node:fs/promises';
import type { Estimate } from '../../src/contracts/estimate.js';
import { startServer } from '../server-harness.js';
import { launchChromium } from './chromium.js';

/**
 * Run by browser.test.ts inside a network namespace with only loopback up: the publisher page in edge
 * mode (`?analysis=edge`) in headless Chromium with a fake camera and microphone, publishing for a while
 * and stopping. Writes the session's estimates, the page's text, what the page sent on its WebSockets
 * (bytes of binary messages per second: the upload per viewer) and whether any media reached the server.
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
  if (e.type === 'estimate' && e.estimate.sessionId === 'edge-1') estimates.push(e.estimate);
});
const browser = await launchChromium({ camera: { y4m, wav } });

let error: string | undefined;
let pageText = '';
let sentBinaryBytes = 0;
let sentBinaryMessages = 0;
let firstSentAt = 0;
let lastSentAt = 0;
const consoleErrors: string[] = [];
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('websocket', (ws) => {
    ws.on('framesent', (frame) => {
      if (typeof frame.payload === 'string') return;
      sentBinaryBytes += frame.payload.length;
      sentBinaryMessages++;
      lastSentAt = Date.now();
      firstSentAt ||= lastSentAt;
    });
  });
  await page.goto(`${t.url}/publish?room=edge&session=edge-1&analysis=edge&autostart=1`);
  const deadline = Date.now() + (seconds + 40) * 1000;
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
const uploadSeconds = Math.max(0.001, (lastSentAt - firstSentAt) / 1000);
await writeFile(
  resultPath,
  JSON.stringify(
    {
      estimates,
      error,
      pageText,
      consoleErrors,
      upload: {
        messages: sentBinaryMessages,
        bytes: sentBinaryBytes,
        seconds: uploadSeconds,
        bytesPerSecond: sentBinaryBytes / uploadSeconds,
      },
      rooms: t.server.rooms.size,
      logs: t.logs,
    },
    null,
    2,
  ),
);
await t.stop();
process.exit(0);
