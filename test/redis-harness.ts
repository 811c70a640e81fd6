import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A real redis-server (Debian package) on a free loopback port, started and stopped by the tests. */

export function redisSkip(): string | false {
  return spawnSync('redis-server', ['--version']).status === 0
    ? false
    : 'redis-server is not installed (scripts/setup.sh installs it)';
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  readonly port: number;
  readonly #dir = mkdtempSync(join(tmpdir(), 'eri-redis-'));
  #child: ChildProcess | undefined;

  readonly #persist: boolean;

  private constructor(port: number, persist: boolean) {
    this.port = port;
    this.#persist = persist;
  }

  /** `persist: false`: no append-only file, so a stop and resume forgets everything. */
  static async start(o: { persist?: boolean } = {}): Promise<RedisServer> {
    const r = new RedisServer(await freePort(), o.persist ?? true);
    await r.resume();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server on the same port and data directory (with the append-only file, data survives a stop). */
  async resume(): Promise<void> {
    this.#child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.#dir,
        '--save',
        '',
        '--appendonly',
        this.#persist ? 'yes' : 'no',
        '--appendfsync',
        'always',
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      // Asynchronous and time-limited: a blocked ping must not block the event loop.
      const pong = await run('redis-cli', ['-p', String(this.port), 'ping'], { timeout: 1000 }).then(
        (r) => r.stdout.includes('PONG'),
        () => false,
      );
      if (pong) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('redis-server did not start');
  }

  /** Stops the server (its data stays for resume()). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  /** Stops it and removes its data. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
