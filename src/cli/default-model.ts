import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EriError } from '../errors.js';

/** The model used when none is named: $ERI_MODEL, else the starter package shipped in models/. */

export const STARTER_MODEL_DIR = fileURLToPath(new URL('../../../models/eri-starter', import.meta.url));

export function defaultModelDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.ERI_MODEL ?? STARTER_MODEL_DIR;
  if (!existsSync(dir)) {
    throw new EriError(
      'ERI_ERR_MODEL_PACKAGE',
      `no model package at ${dir}: pass --model <dir> or set ERI_MODEL ` +
        '(an untrained one for trying things: eri model init --random --out <dir>)',
    );
  }
  return dir;
}
