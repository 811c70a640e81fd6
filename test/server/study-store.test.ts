import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { FileStudyCatalog } from '../../src/studies/study-catalog.js';
import { withTempDir } from '../helpers.js';

it('a study folder that cannot be read is skipped with a log line, and the rest still open', async () => {
  await withTempDir(async (dir) => {
    await mkdir(join(dir, 'studies', 'broken'), { recursive: true });
    await writeFile(join(dir, 'studies', 'broken', 'study.json'), '{ half written');
    await mkdir(join(dir, 'studies', 'empty'), { recursive: true });
    const lines: string[] = [];
    const catalog = await FileStudyCatalog.open(join(dir, 'studies'), (line) => lines.push(line));
    assert.equal((await catalog.list()).length, 0);
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines.find((l) => l.includes('broken')) ?? '', /study broken skipped: .*study\.json/);
  });
});
