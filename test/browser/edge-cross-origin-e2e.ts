import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium } from '../../src/bench/chromium.js';
import { startServer } from '../server-harness.js';

/**
 * Run by browser.test.ts inside a network namespace with only loopback up: a study site on another
 * origin than the server's embeds the edge library (`<script src=".../public/edge.js">`) and publishes
 * in edge mode with a fake camera, as a remote study's page would. The server lists that origin in
 * ERI_CORS_ORIGINS. The same page from an origin it does not list must fail to start. Writes what
 * happened as JSON.
 *
 * argv: <y4m> <wav> <result.json>
 */

const [y4m, wav, resultPath] = process.argv.slice(2) as [string, string, string];

// The study site: one empty page, on two ports of its own, so two origins other than the server's:
// the first allowed, the second not.
async function studySite(): Promise<{ origin: string; close(): void }> {
  const site = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>study</title><video id="v" muted playsinline autoplay></video>');
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(site.address() as AddressInfo).port}`, close: () => site.close() };
}
const site = await studySite();
const otherSite = await studySite();
const allowed = site.origin;
const t = await startServer({ windowSeconds: 30, strideSeconds: 1, corsOrigins: allowed });
const browser = await launchChromium({ camera: { y4m, wav } });

interface Attempt {
  estimates: number;
  steps: number;
  backend?: string;
  error?: string;
  consoleErrors: string[];
}

async function publishFrom(pageUrl: string, sessionId: string): Promise<Attempt> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  try {
    await page.goto(pageUrl);
    await page.addScriptTag({ url: `${t.url}/public/edge.js` });
    const out = await page.evaluate(
      async ({ server, sessionId }) => {
        // The page's DOM, typed as far as used (this project's Node build has no DOM lib).
        type Stream = { getTracks(): { stop(): void }[] };
        type Video = { srcObject: Stream | null; play(): Promise<void> };
        type Publication = { backend: string; stats: { steps: number }; stop(): Promise<void> };
        const w = globalThis as unknown as {
          navigator: { mediaDevices: { getUserMedia(constraints: object): Promise<Stream> } };
          document: { getElementById(id: string): Video };
          EriEdge: {
            publishEdge(o: {
              server: string;
              roomId: string;
              sessionId: string;
              video: Video;
              stream: Stream;
              onMessage(m: { type: string }): void;
            }): Promise<Publication>;
          };
        };
        const stream = await w.navigator.mediaDevices.getUserMedia({
          video: { width: 640, height: 480 },
          audio: true,
        });
        const video = w.document.getElementById('v');
        video.srcObject = stream;
        await video.play();
        let estimates = 0;
        try {
          const publication = await w.EriEdge.publishEdge({
            server,
            roomId: 'cross-origin',
            sessionId,
            video,
            stream,
            onMessage: (m) => {
              if (m.type === 'estimate') estimates++;
            },
          });
          const deadline = Date.now() + 40_000;
          while (estimates < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
          await publication.stop();
          return { estimates, steps: publication.stats.steps, backend: publication.backend };
        } catch (e) {
          return { estimates, steps: 0, error: (e as Error).message };
        } finally {
          for (const track of stream.getTracks()) track.stop();
        }
      },
      { server: t.url, sessionId },
    );
    return { ...out, consoleErrors };
  } catch (e) {
    return { estimates: 0, steps: 0, error: (e as Error).message, consoleErrors };
  } finally {
    await context.close();
  }
}

const fromAllowed = await publishFrom(`${allowed}/`, 'cross-origin-1');
const fromOther = await publishFrom(`${otherSite.origin}/`, 'cross-origin-2');
await browser.close();
await writeFile(
  resultPath,
  JSON.stringify({ allowed: fromAllowed, other: fromOther, logs: t.logs }, null, 2),
);
await t.stop();
site.close();
otherSite.close();
process.exit(0);
