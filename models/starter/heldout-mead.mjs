#!/usr/bin/env node
// Held-out check of a model on the MEAD clips in ../shared/testmedia (acted emotions; never trained on):
// for each clip whose label maps to one of the 7 reaction emotions, does that emotion rank highest among
// the model's outputs? Chance is 1 in 7. Usage: node models/starter/heldout-mead.mjs <model-dir> <work-dir>
// Prints JSON (and writes it to <work-dir>/heldout-mead.json). Needs ../shared/testmedia (or ERI_SHARED_DIR).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const EMOTIONS = ['Adoration', 'Amusement', 'Anxiety', 'Disgust', 'Empathic-Pain', 'Fear', 'Surprise'];
/** MEAD's acted emotions that have a reaction-emotion counterpart (anger, contempt, neutral have none). */
const MAPPING = {
  happiness: 'Amusement',
  sadness: 'Empathic-Pain',
  fear: 'Fear',
  surprise: 'Surprise',
  disgust: 'Disgust',
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const shared = resolve(process.env.ERI_SHARED_DIR ?? join(root, '..', 'shared'));
const media = join(shared, 'testmedia');
const [modelDir, workDir] = process.argv.slice(2);
if (!modelDir || !workDir) {
  console.error('usage: heldout-mead.mjs <model-dir> <work-dir>');
  process.exit(2);
}
if (!existsSync(join(media, 'manifest.csv'))) {
  console.error(
    `skipped: no test media at ${media} (the MEAD clips are not redistributable; see SOURCES.md)`,
  );
  process.exit(0);
}

// manifest.csv: the labels column is JSON with quotes doubled; it is the last column.
const lines = (await readFile(join(media, 'manifest.csv'), 'utf8')).trim().split(/\r?\n/).slice(1);
const clips = [];
for (const line of lines) {
  const file = line.slice(0, line.indexOf(','));
  const json = line.match(/,"(\{.*\})"$/)?.[1]?.replaceAll('""', '"');
  if (!json) continue;
  const labels = JSON.parse(json);
  const target = MAPPING[labels.emotion];
  if (!String(labels.dataset ?? '').startsWith('MEAD') || !target) continue;
  clips.push({ id: `mead${String(clips.length).padStart(2, '0')}`, file, acted: labels.emotion, target });
}

const dataset = join(workDir, 'dataset');
await rm(dataset, { recursive: true, force: true });
await mkdir(join(dataset, 'videos'), { recursive: true });
for (const c of clips) await symlink(join(media, c.file), join(dataset, 'videos', `${c.id}.mp4`));
const empty = EMOTIONS.map(() => '').join(',');
await writeFile(
  join(dataset, 'data_info.csv'),
  `File_ID,Split,${EMOTIONS.join(',')}\n${clips.map((c) => `${c.id},Test,${empty}`).join('\n')}\n`,
);
const eri = (...args) =>
  execFileSync(process.execPath, [join(root, 'dist/src/cli/main.js'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
eri('extract', dataset, '--out', join(workDir, 'features'), '--no-progress');
eri('eval', modelDir, join(workDir, 'features'), '--split', 'Test', '--out', join(workDir, 'eval'));

const rows = (await readFile(join(workDir, 'eval', 'predictions.csv'), 'utf8')).trim().split('\n').slice(1);
const predictions = new Map(
  rows.map((r) => {
    const [id, ...v] = r.split(',');
    return [id, v.map(Number)];
  }),
);
const scored = clips.filter((c) => predictions.has(c.id));
const mean = EMOTIONS.map((_, j) => scored.reduce((s, c) => s + predictions.get(c.id)[j], 0) / scored.length);
const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
let raw = 0;
let centred = 0;
const perClip = scored.map((c) => {
  const p = predictions.get(c.id);
  const top = EMOTIONS[argmax(p)];
  const topCentred = EMOTIONS[argmax(p.map((x, j) => x - mean[j]))];
  raw += top === c.target ? 1 : 0;
  centred += topCentred === c.target ? 1 : 0;
  return { file: c.file, acted: c.acted, expected: c.target, top, topCentred };
});
const result = {
  model: modelDir,
  clips: scored.length,
  skipped: clips.length - scored.length,
  top1: raw / scored.length,
  top1Centred: centred / scored.length,
  chance: 1 / EMOTIONS.length,
  note: "top1: the expected emotion has the highest output; top1Centred: highest after subtracting each emotion's mean output over these clips (removes the model's baseline per emotion)",
  perClip,
};
await writeFile(join(workDir, 'heldout-mead.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
