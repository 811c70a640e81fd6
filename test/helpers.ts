import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EMOTIONS } from '../src/contracts/emotions.js';
import { type Estimate, namedIntensities } from '../src/contracts/estimate.js';

/** Paths and small utilities shared by the tests (compiled to dist/test/, run from the repo root). */

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRoot();
export const SHARED_DIR = resolve(process.env.ERI_SHARED_DIR ?? join(REPO_ROOT, '..', 'shared'));
export const REFERENCE_FIXTURE = join(SHARED_DIR, 'fixtures', 'reference-eri');
export const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

/** A skip reason when the shared reference fixture is absent, else false. */
export function referenceFixtureSkip(): string | false {
  return existsSync(join(REFERENCE_FIXTURE, 'weights.safetensors'))
    ? false
    : `reference fixture not found at ${REFERENCE_FIXTURE} (set ERI_SHARED_DIR or clone beside ../shared)`;
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'eri-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  const d = maxAbsDiff(actual, expected);
  if (!(d <= tol)) throw new Error(`${what}: max |diff| ${d.toExponential(3)} exceeds ${tol}`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `eri` CLI; never throws: the exit code, stdout and stderr come back for assertions. */
export async function runEri(
  args: readonly string[],
  options: { timeoutMs?: number } = {},
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A skip reason when Debian's python3 lacks PyTorch (models/training cannot run), else false. */
export function pythonTorchSkip(): string | false {
  const python = process.env.ERI_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const probe = spawnSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 60_000 });
  return probe.status === 0
    ? false
    : `${python} cannot import torch and numpy (apt-get install python3-torch)`;
}

/** A well-formed estimate with values that depend on seq, for protocol and auth tests without media. */
export function fakeEstimate(sessionId: string, roomId: string, seq: number, final = false): Estimate {
  const values = EMOTIONS.map((_, i) => ((seq + i) % 10) / 10);
  return {
    v: 1,
    sessionId,
    roomId,
    seq,
    windowStart: 0,
    windowEnd: seq + 1,
    wallTime: new Date().toISOString(),
    intensities: namedIntensities(values),
    values,
    coverage: { face: 1, speech: 0.5 },
    modalities: ['video', 'audio'],
    final,
    model: 'm@1',
    latencyMs: 3,
    steps: 10,
  };
}

/** This process's child processes (name as `ps` shows it, state), to catch orphans after a fault. */
export function childProcesses(): { pid: number; name: string; state: string }[] {
  const out = spawnSync('ps', ['-o', 'pid=,stat=,comm=', '--ppid', String(process.pid)], {
    encoding: 'utf8',
  });
  return (out.stdout ?? '')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, state, name] = line.trim().split(/\s+/);
      return { pid: Number(pid), state: state ?? '', name: name ?? '' };
    })
    .filter((p) => p.name !== 'ps');
}

/** Waits until `check` holds (polling), up to `ms`; returns whether it did. */
export async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
