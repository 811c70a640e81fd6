import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Node, parse } from 'acorn';

/**
 * `npm run k6:build` as k6 v0.48 would take it (k6 is not installed here): each scenario bundles into
 * one file that an ES2019 parser accepts, importing nothing but k6's own modules, and every path it
 * open()s as a literal resolves, against the bundle's own folder as k6 resolves it, to a file of the
 * project, whatever directory k6 is started in.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DIST = join(ROOT, 'load-tests', 'dist');
const SCENARIOS = ['subscribers', 'publishers', 'edge-publishers', 'signalling', 'history'];

function walk(node: Node, visit: (n: Node & Record<string, unknown>) => void): void {
  visit(node as Node & Record<string, unknown>);
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) for (const v of value) if (v && typeof v.type === 'string') walk(v, visit);
    if (value && typeof value === 'object' && typeof (value as Node).type === 'string')
      walk(value as Node, visit);
  }
}

describe('k6 bundles', () => {
  it('bundle to ES2019 with only k6 imports, and their open() paths resolve from the bundle', async () => {
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'k6-bundle.mjs')], { cwd: '/' });
    for (const name of SCENARIOS) {
      const file = join(DIST, `${name}.js`);
      const code = await readFile(file, 'utf8');
      const ast = parse(code, { ecmaVersion: 2019, sourceType: 'module' });
      const imports: string[] = [];
      const opened: string[] = [];
      walk(ast, (n) => {
        if (n.type === 'ImportDeclaration') imports.push(String((n.source as { value: string }).value));
        const callee = n.callee as { type?: string; name?: string } | undefined;
        const first = (n.arguments as { type: string; value?: unknown }[] | undefined)?.[0];
        if (n.type === 'CallExpression' && callee?.name === 'open' && first?.type === 'Literal')
          opened.push(String(first.value));
      });
      assert.ok(
        imports.length > 0 && imports.every((i) => i === 'k6' || i.startsWith('k6/')),
        `${name}: ${imports}`,
      );
      assert.ok(opened.includes('../scenarios.json'), `${name} reads scenarios.json`);
      for (const path of opened)
        assert.ok(existsSync(resolve(dirname(file), path)), `${name}: ${path} resolves`);
      if (code.includes('MEDIA_DIR'))
        assert.match(
          code,
          /__ENV\.PWD/,
          `${name}: a relative MEDIA_DIR is taken against the working directory`,
        );
    }
  });
});
