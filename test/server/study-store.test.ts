import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { StudyStore } from '../../src/studies/study-store.js';
import { withTempDir } from '../helpers.js';

it('a study folder that cannot be read is skipped with a log line, and the rest still open', async () => {
  await withTempDir(async (dir) => {
    await mkdir(join(dir, 'studies', 'broken'), { recursive: true });
    await writeFile(join(dir, 'studies', 'broken', 'study.json'), '{ half written');
    await mkdir(join(dir, 'studies', 'empty'), { recursive: true });
    const lines: string[] = [];
    const store = await StudyStore.open(dir, (line) => lines.push(line));
    assert.equal(store.list().length, 0);
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines.find((l) => l.includes('broken')) ?? '', /study broken skipped: .*study\.json/);
  });
});
