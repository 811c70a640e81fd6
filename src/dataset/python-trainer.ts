import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EriError } from '../errors.js';

/**
 * Runs the PyTorch package in models/training (`python3 -m eri_train …`) with Debian's python3, which is
 * where apt puts python3-torch (another python3 may come first on PATH). ERI_PYTHON overrides it.
 */

export const TRAINING_DIR = fileURLToPath(new URL('../../../models/training', import.meta.url));

export function pythonBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ERI_PYTHON) return env.ERI_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Runs `python3 -m eri_train <args>`, its output passed through; rejects with ERI_ERR_TRAINING. */
export async function runTrainer(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; quiet?: boolean } = {},
): Promise<string> {
  const env = options.env ?? process.env;
  const python = pythonBinary(env);
  const child = spawn(python, ['-m', 'eri_train', ...args], {
    env: {
      ...env,
      PYTHONPATH: env.PYTHONPATH ? `${TRAINING_DIR}:${env.PYTHONPATH}` : TRAINING_DIR,
      PYTHONUNBUFFERED: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Only the tails are kept (a long training prints a line per epoch): callers read the last lines.
  const TAIL = 64 * 1024;
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout = (stdout + d).slice(-TAIL);
    if (!options.quiet) process.stdout.write(d);
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d).slice(-TAIL);
    if (!options.quiet) process.stderr.write(d);
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (cause) =>
      reject(new EriError('ERI_ERR_TRAINING', `cannot run ${python}: ${cause.message}`, { cause })),
    );
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    const missingTorch = /No module named 'torch'/.test(stderr);
    throw new EriError(
      'ERI_ERR_TRAINING',
      missingTorch
        ? `${python} has no PyTorch: install Debian's python3-torch (apt-get install python3-torch libopenblas0-pthread), or point ERI_PYTHON at a python3 that has torch`
        : `eri_train ${args[0]} exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
  return stdout;
}
