import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * `eri serve` as a child process on a free port (`--insecure-dev`), resolved once it listens: for the
 * benchmarks that read a server's own CPU and memory apart from their load, and for tests that kill
 * it. The caller owns the child and ends it.
 */

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const LISTENING = /listening on (http:\/\/\S+)/;

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Everything it wrote to stderr so far (its log). */
  output(): string;
}

export async function spawnEriServe(
  modelDir: string,
  env: Record<string, string>,
  startTimeoutMs = 60_000,
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--insecure-dev', '--port', '0', '--model', modelDir],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    log += text;
  });
  const deadline = Date.now() + startTimeoutMs;
  while (!LISTENING.test(log) && Date.now() < deadline && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 100));
  const url = LISTENING.exec(log)?.[1];
  if (!url) {
    child.kill('SIGKILL');
    throw new Error(`eri serve did not start: ${log.slice(-2000)}`);
  }
  return { child, url, output: () => log };
}
