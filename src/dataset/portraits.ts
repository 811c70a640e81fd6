import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { eriCacheRoot } from '../util/cache-dir.js';

/**
 * Public-domain portraits that scripts/setup.sh takes out of Debian packages into the cache: the faces of
 * the synthetic datasets (training tests, the starter model). Neither photograph is in the repository.
 */

export const PORTRAITS = {
  /** Rear Admiral Grace Hopper, US Navy photograph (public domain); Debian package facedetect. */
  grace_hopper: 'grace_hopper.jpg',
  /** Astronaut Eileen Collins, NASA photograph (public domain); Debian package python3-skimage. */
  astronaut: 'astronaut.png',
} as const;

export type PortraitName = keyof typeof PORTRAITS;

export function portraitPath(name: PortraitName, env: NodeJS.ProcessEnv = process.env): string {
  return join(eriCacheRoot(env), 'portraits', PORTRAITS[name]);
}

/** A reason to skip when setup could not fetch the portraits, else false. */
export function portraitsMissing(env: NodeJS.ProcessEnv = process.env): string | false {
  const absent = (Object.keys(PORTRAITS) as PortraitName[]).filter((n) => !existsSync(portraitPath(n, env)));
  return absent.length
    ? `public-domain portraits not in ${join(eriCacheRoot(env), 'portraits')} (scripts/setup.sh fetches them with apt-get download)`
    : false;
}
