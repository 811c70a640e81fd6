import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { ERROR_CODES, EriError } from '../src/errors.js';
import { REPO_ROOT } from './helpers.js';

it('every error code is documented in docs/errors.md, and nothing else is', async () => {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/`(ERI_ERR_[A-Z_]+)`/g)].map((m) => m[1]));
  assert.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort());
});

it('docs/errors.md gives each code the HTTP status the error handler answers with', async () => {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\``));
    assert.ok(row, code);
    assert.equal(row.trim().split('|').at(-2)?.trim(), String(status), `${code}: ${row}`);
  }
});

it('an EriError serialises to its code and message', () => {
  assert.deepEqual(new EriError('ERI_ERR_CLOSED', 'x').toJSON(), { code: 'ERI_ERR_CLOSED', message: 'x' });
});
