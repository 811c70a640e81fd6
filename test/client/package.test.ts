import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { withTempDir } from '../helpers.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

/**
 * The client package as a user gets it: `npm pack` in packages/client, the tarball installed into an
 * empty project (with rxjs, and ws for Node 20), nothing native in what it pulls in, its types
 * resolving for a TypeScript user, and its client talking to a real server.
 */

const run = promisify(execFile);
const PACKAGE_DIR = fileURLToPath(new URL('../../../packages/client/', import.meta.url));
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const typedoc = join(require.resolve('typedoc/package.json'), '..', 'bin', 'typedoc');

async function nativeFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && (entry.name.endsWith('.node') || entry.name === 'binding.gyp'))
      found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

describe('client package', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  before(async () => {
    t = await startServer();
  });
  after(async () => {
    await t?.stop();
  });

  it('packs, installs into an empty project with no native dependency, type-checks and connects', async () => {
    await withTempDir(async (dir) => {
      const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: PACKAGE_DIR,
        maxBuffer: 16 * 1024 * 1024,
      });
      const packed = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
        filename: string;
        files: { path: string }[];
      }[];
      const files = packed[0]?.files.map((f) => f.path) ?? [];
      assert.ok(files.includes('dist/index.js') && files.includes('README.md'), files.join(', '));
      assert.ok(!files.some((f) => f.startsWith('src/')), 'sources stay out of the tarball');
      const project = join(dir, 'app');
      await run('mkdir', ['-p', project]);
      await writeFile(
        join(project, 'package.json'),
        JSON.stringify({ name: 'app', private: true, type: 'module' }),
      );
      await run(
        'npm',
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          join(dir, packed[0]?.filename ?? ''),
          'rxjs@7',
          'ws@8',
        ],
        { cwd: project, maxBuffer: 16 * 1024 * 1024 },
      );
      assert.deepEqual(await nativeFiles(join(project, 'node_modules')), [], 'nothing native installed');

      await writeFile(
        join(project, 'main.ts'),
        `import { EriStreamClient, type Estimate, type ConnectionState } from '@eri-stream/client';
import { firstValueFrom } from 'rxjs';
const client = new EriStreamClient(process.argv[2] as string);
const states: ConnectionState['status'][] = [];
client.state$.subscribe((s) => states.push(s.status));
const sub = client.estimates({ roomId: 'lobby' }).subscribe((e: Estimate) => console.log(e.intensities.Amusement));
const hello = await firstValueFrom(client.hello$);
console.log(JSON.stringify({ model: hello.model.name, emotions: hello.emotions.length, states }));
sub.unsubscribe();
client.close();
`,
      );
      await writeFile(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            types: [],
            lib: ['ES2022', 'DOM'],
            outDir: 'out',
          },
          files: ['main.ts', 'process.d.ts'],
        }),
      );
      await writeFile(join(project, 'process.d.ts'), 'declare const process: { argv: string[] };\n');
      await run(process.execPath, [tsc, '-p', '.', '--noEmit', 'false'], { cwd: project }).catch(
        (error: { stdout?: string }) => assert.fail(`tsc: ${error.stdout}`),
      );
      const { stdout: out } = await run(process.execPath, ['out/main.js', t.url], {
        cwd: project,
        timeout: 20_000,
      });
      const said = JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
      assert.equal(said.emotions, 7);
      assert.equal(typeof said.model, 'string');
      assert.deepEqual(said.states.slice(0, 3), ['idle', 'connecting', 'open']);
    });
  });

  it('typedoc writes its API reference with no warning', async () => {
    await run(process.execPath, [typedoc, '--out', join(PACKAGE_DIR, 'api')], { cwd: PACKAGE_DIR }).catch(
      (error: { stdout?: string }) => assert.fail(`typedoc: ${error.stdout}`),
    );
    const pages = await readdir(join(PACKAGE_DIR, 'api', 'classes'));
    assert.ok(
      pages.some((p) => /EriStreamClient/.test(p)),
      pages.join(', '),
    );
  });
});
