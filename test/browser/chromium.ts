import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's headless Chromium as the browser tests use it: no sandbox (root in a namespace), nothing
 * that reaches out (updates, sync, background networking), and, with a clip, a fake camera and
 * microphone that play it.
 */
export function launchChromium(
  o: { camera?: { y4m: string; wav: string }; extraArgs?: string[] } = {},
): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/lib/chromium/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(o.camera
        ? [
            '--use-fake-device-for-media-stream',
            '--use-fake-ui-for-media-stream',
            `--use-file-for-fake-video-capture=${o.camera.y4m}`,
            `--use-file-for-fake-audio-capture=${o.camera.wav}`,
            '--allow-loopback-in-peer-connection',
          ]
        : []),
      ...(o.extraArgs ?? []),
    ],
  });
}
