import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache outside the repo for expensive builds and fetched files (setup.sh computes the same path). */
export function eriCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.ERI_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'eri-stream');
}
