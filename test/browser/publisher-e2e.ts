import { writeFile } from 'node:fs/promises';
import { launchChromium } from '../../src/bench/chromium.js';
import type { Estimate } from '../../src/contracts/estimate.js';
import { startServer } from '../server-harness.js';

/**
 * Run by browser.test.ts inside a network namespace with only loopback up (so every packet stays on
 * 127.0.0.1): starts a server, opens the publisher page in headless Debian Chromium with a fake camera
 * and microphone made from a clip, publishes for a while, stops, and writes what happened as JSON: the
 * session's estimates, the page's text and console errors, what the page sent as binary WebSocket
 * messages (in edge mode, the feature steps: the upload per viewer) and how many media rooms opened.
 *
 * argv: <y4m> <wav> <result.json> <screenshot.png> <seconds> <server|edge>
 */

const [y4m, wav, resultPath, screenshotPath, secondsArg, mode] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  'server' | 'edge',
];
const seconds = Number(secondsArg);
const sessionId = `${mode}-1`;
const t = await startServer({ windowSeconds: 30, strideSeconds: 1 });
const estimates: Estimate[] = [];
let rooms = 0;
t.server.registry.events$.subscribe((e) => {
  if (e.type === 'estimate' && e.estimate.sessionId === sessionId) estimates.push(e.estimate);
  rooms = Math.max(rooms, t.server.rooms.size);
});
const browser = await launchChromium({ camera: { y4m, wav } });

let error: string | undefined;
let pageText = '';
const upload = { messages: 0, bytes: 0, first: 0, last: 0 };
const consoleErrors: string[] = [];
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('websocket', (ws) => {
    ws.on('framesent', (frame) => {
      if (typeof frame.payload === 'string') return;
      upload.messages++;
      upload.bytes += frame.payload.length;
      upload.last = Date.now();
      upload.first ||= upload.last;
    });
  });
  const edge = mode === 'edge' ? '&analysis=edge' : '';
  await page.goto(`${t.url}/publish?room=browser&session=${sessionId}${edge}&autostart=1`);
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
const uploadSeconds = Math.max(0.001, (upload.last - upload.first) / 1000);
const result = {
  estimates,
  error,
  pageText,
  consoleErrors,
  upload: { messages: upload.messages, bytes: upload.bytes, bytesPerSecond: upload.bytes / uploadSeconds },
  rooms,
  logs: t.logs,
};
await writeFile(resultPath, JSON.stringify(result, null, 2));
await t.stop();
process.exit(0);
