import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { EriError } from '../errors.js';

/** Debian's Chromium binary (/usr/bin/chromium is a wrapper script that adds flags of its own). */
export const CHROMIUM_BINARY = '/usr/lib/chromium/chromium';

/**
 * Debian's headless Chromium as the browser tests and benches use it: no sandbox (root in a namespace),
 * nothing that reaches out (updates, sync, background networking), and, with a camera, a fake camera
 * and microphone (playing a clip, or Chromium's own test pattern) granted without asking, and WebRTC
 * allowed on loopback. playwright-core is a development dependency: only tests and benches load it.
 */
export async function launchChromium(
  o: { camera?: { y4m: string; wav: string } | 'pattern'; extraArgs?: string[] } = {},
): Promise<Browser> {
  if (!existsSync(CHROMIUM_BINARY))
    throw new EriError(
      'ERI_ERR_INVALID_ARGUMENT',
      `no Debian chromium at ${CHROMIUM_BINARY} (apt-get install chromium)`,
    );
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM_BINARY,
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
            '--allow-loopback-in-peer-connection',
          ]
        : []),
      ...(o.camera && o.camera !== 'pattern'
        ? [
            `--use-file-for-fake-video-capture=${o.camera.y4m}`,
            `--use-file-for-fake-audio-capture=${o.camera.wav}`,
          ]
        : []),
      ...(o.extraArgs ?? []),
    ],
  });
}
