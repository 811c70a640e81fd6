import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { extractDataset, REPORT_FILE } from '../dataset/extract-dataset.js';
import { clipsOfSplit, readFeaturesIndex } from '../dataset/features-index.js';
import { evaluate } from '../dataset/metrics.js';
import { runTrainer, TRAINING_DIR } from '../dataset/python-trainer.js';
import { scatterSvg } from '../dataset/scatter-svg.js';
import { EriError } from '../errors.js';
import { faceOptionsFromEnv } from '../features/face/face-settings.js';
import { FeaturePool } from '../features/pool.js';
import { readFeaturesFile } from '../model/features-file.js';
import { EriModel } from '../model/model.js';
import { loadModelPackage } from '../model/package.js';
import { describePackage } from './model-commands.js';
import {
  fraction,
  nameList,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  positiveNumber,
} from './options.js';

/** `eri extract`, `eri train`, `eri eval`: from a labelled dataset to a model package and its scores. */

async function extractCommand(
  datasetDir: string,
  o: { out: string; workers: number; jobs?: number; progress: boolean },
) {
  const pool = new FeaturePool({ workers: o.workers, face: faceOptionsFromEnv() });
  const bar =
    o.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format:
              'extracting [{bar}] {value}/{total} clips | {failed} failed | {steps} steps | ETA {eta_formatted}',
            hideCursor: true,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  try {
    let started = false;
    const { index, report } = await extractDataset(datasetDir, o.out, pool, {
      ...(o.jobs ? { jobs: o.jobs } : {}),
      onProgress: (p) => {
        if (!bar) return;
        if (!started) bar.start(p.total, 0, { failed: 0, steps: 0 });
        started = true;
        bar.update(p.done, { failed: p.failed, steps: p.steps });
      },
    });
    bar?.stop();
    await writeFile(join(o.out, REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`);
    const splits = new Map<string, number>();
    for (const c of index.clips) splits.set(c.split, (splits.get(c.split) ?? 0) + 1);
    console.log(
      `eri: ${index.clips.length} of ${report.clips} clips in ${o.out} (${report.extracted} extracted, ${report.reused} already done; ` +
        `${[...splits].map(([s, n]) => `${s} ${n}`).join(', ')}) in ${report.elapsedS.toFixed(1)} s`,
    );
    if (report.failed.length > 0) {
      console.log(`eri: ${report.failed.length} clip(s) failed (listed in ${join(o.out, REPORT_FILE)}):`);
      for (const f of report.failed.slice(0, 20)) console.log(`  ${f.id}: [${f.code}] ${f.message}`);
    }
  } finally {
    bar?.stop();
    await pool.close();
  }
}

/**
 * The training settings `eri train` forwards to eri_train, by its flag. Unset ones are not sent, so the
 * seed's values come from one place: models/training/eri_train/seed_recipe.json.
 */
const TRAIN_SETTINGS = {
  epochs: { flag: 'epochs', parse: positiveInt, what: 'epochs' },
  batch: { flag: 'batch', parse: positiveInt, what: 'clips per batch' },
  lr: { flag: 'lr', parse: positiveNumber, what: 'AdamW learning rate' },
  weightDecay: { flag: 'weight-decay', parse: nonNegativeNumber, what: 'AdamW weight decay' },
  lrStep: { flag: 'lr-step', parse: positiveInt, what: 'epochs per learning-rate step' },
  lrGamma: { flag: 'lr-gamma', parse: positiveNumber, what: 'learning-rate factor per step' },
  dropout: { flag: 'dropout', parse: fraction, what: 'dropout on the attention output and the MLP' },
  attnDropout: { flag: 'attn-dropout', parse: fraction, what: 'dropout on the attention probabilities' },
  headDropout: { flag: 'head-dropout', parse: fraction, what: "dropout between the head's two layers" },
  gradClip: { flag: 'grad-clip', parse: nonNegativeNumber, what: 'gradient norm clip, 0 = off' },
  patience: {
    flag: 'patience',
    parse: nonNegativeInt,
    what: 'stop after n epochs without a better validation mean Pearson r, 0 = never',
  },
  seed: { flag: 'seed', parse: nonNegativeInt, what: 'random seed' },
  modalityDropout: {
    flag: 'modality-dropout',
    parse: fraction,
    what: "chance per clip of hiding its video or its audio (this project's, default 0)",
  },
  featureDropout: {
    flag: 'feature-dropout',
    parse: fraction,
    what: "chance per video feature and clip of hiding it for the whole clip (this project's, default 0)",
  },
  blockDropout: {
    flag: 'block-dropout',
    parse: fraction,
    what: "chance per video feature block (embedding, probabilities, AUs, pose) and clip of hiding it (this project's, default 0)",
  },
  featureNoise: {
    flag: 'feature-noise',
    parse: nonNegativeNumber,
    what: "std of Gaussian noise added to the standardised video features (this project's, default 0)",
  },
  expressionPermutation: {
    flag: 'expression-permutation',
    parse: fraction,
    what: "chance per clip of training on it with its six expression probabilities permuted and relabelled by its teacher (expr or combo; this project's, default 0)",
  },
  chain: {
    flag: 'chain',
    parse: fraction,
    what: "chance per batch of training on clips chained up to the live window (30 s) and relabelled by their teacher (expr, facs or combo; this project's, default 0)",
  },
  threads: { flag: 'threads', parse: positiveInt, what: 'PyTorch threads (default 1)' },
} as const;

type TrainSetting = keyof typeof TRAIN_SETTINGS;

type TrainOptions = { [K in TrainSetting]?: number } & {
  out: string;
  stdFloor?: boolean;
  videoBlocks?: string[];
  audioBlocks?: string[];
  name: string;
  modelVersion: string;
  description?: string;
  data?: string;
  licence?: string;
};

const SEED_RECIPE_FILE = join(TRAINING_DIR, 'eri_train', 'seed_recipe.json');

/** The seed's value of each setting, for the help text (the numbers themselves stay in the JSON). */
function seedRecipe(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(SEED_RECIPE_FILE, 'utf8')).settings;
  } catch {
    return {};
  }
}

async function trainCommand(featuresDir: string, o: TrainOptions) {
  await readFeaturesIndex(featuresDir); // a clear error here beats a Python traceback
  const settings = (Object.keys(TRAIN_SETTINGS) as TrainSetting[]).flatMap((k) =>
    o[k] === undefined ? [] : [`--${TRAIN_SETTINGS[k].flag}`, String(o[k])],
  );
  const args = [
    'train',
    featuresDir,
    '--out',
    o.out,
    ...settings,
    ...(o.stdFloor ? ['--std-floor'] : []),
    ...(o.videoBlocks ? ['--video-blocks', o.videoBlocks.join(',')] : []),
    ...(o.audioBlocks ? ['--audio-blocks', o.audioBlocks.join(',')] : []),
    ...['--name', o.name, '--version', o.modelVersion],
    ...(o.description ? ['--description', o.description] : []),
    ...(o.data ? ['--data', o.data] : []),
    ...(o.licence ? ['--licence', o.licence] : []),
  ];
  await runTrainer(args);
  // The package is only reported made once the server's own loader accepts it.
  console.log(`\nwrote ${o.out}\n${describePackage(await loadModelPackage(o.out))}`);
}

export interface EvalResult {
  predictionsPath: string;
  metricsPath?: string;
  plotPath?: string;
}

export async function evalCommand(
  modelDir: string,
  featuresDir: string,
  o: { split: string; out?: string },
): Promise<EvalResult> {
  const index = await readFeaturesIndex(featuresDir);
  const clips = clipsOfSplit(index, o.split === 'all' ? undefined : o.split);
  if (clips.length === 0) {
    throw new EriError('ERI_ERR_DATASET', `${featuresDir} has no clips in split '${o.split}'`);
  }
  const model = await EriModel.load(modelDir, { engine: 'local', featureSpec: index.featureSpec });
  const out = o.out ?? join(featuresDir, 'eval', `${model.card.name}-${o.split.toLowerCase()}`);
  const emotions = model.card.emotions;
  const predicted: Float32Array[] = [];
  try {
    for (const clip of clips) {
      const features = await readFeaturesFile(join(featuresDir, clip.file));
      predicted.push((await model.predict(features)).intensities);
    }
  } finally {
    await model.close();
  }
  await mkdir(out, { recursive: true });
  const predictionsPath = join(out, 'predictions.csv');
  const lines = [
    ['File_ID', ...emotions].join(','),
    ...clips.map((c, i) =>
      [c.id, ...Array.from(predicted[i] as Float32Array, (v) => v.toFixed(7))].join(','),
    ),
  ];
  await writeFile(predictionsPath, `${lines.join('\n')}\n`);
  const labelled = clips.flatMap((c, i) =>
    c.labels ? [{ truth: c.labels, pred: predicted[i] as Float32Array }] : [],
  );
  console.log(`eri: predictions for ${clips.length} clips -> ${predictionsPath}`);
  if (labelled.length === 0) {
    console.log(
      `eri: split '${o.split}' has no labels: predictions only (the challenge's submission layout)`,
    );
    return { predictionsPath };
  }
  // Score exactly what the CSV says, so a score recomputed from the file agrees to the last digit.
  const rounded = labelled.map((l) => Array.from(l.pred, (v) => Number(v.toFixed(7))));
  const truth = labelled.map((l) => l.truth);
  const metrics = evaluate(rounded, truth, emotions);
  const metricsPath = join(out, 'metrics.json');
  await writeFile(
    metricsPath,
    `${JSON.stringify({ model: `${model.card.name}@${model.card.version}`, features: featuresDir, split: o.split, ...metrics }, null, 2)}\n`,
  );
  const plotPath = join(out, 'scatter.svg');
  await writeFile(
    plotPath,
    scatterSvg(`${model.card.name}@${model.card.version} on ${o.split}`, emotions, rounded, truth, metrics),
  );
  console.log(`${'emotion'.padEnd(16)} ${'pearson r'.padStart(10)} ${'MAE'.padStart(8)}`);
  for (const e of emotions) {
    console.log(
      `${e.padEnd(16)} ${(metrics.pearsonR[e] ?? 0).toFixed(4).padStart(10)} ${(metrics.maePerEmotion[e] ?? 0).toFixed(4).padStart(8)}`,
    );
  }
  console.log(
    `${'mean'.padEnd(16)} ${metrics.meanPearsonR.toFixed(4).padStart(10)} ${metrics.mae.toFixed(4).padStart(8)}   (${metrics.clips} labelled clips)`,
  );
  console.log(`eri: metrics -> ${metricsPath}, plot -> ${plotPath}`);
  return { predictionsPath, metricsPath, plotPath };
}

export function registerDatasetCommands(program: Command): void {
  program
    .command('extract')
    .description(
      "run the server's feature extractor over a Hume-Reaction-style dataset (data_info.csv + videos)",
    )
    .argument(
      '<dataset-dir>',
      'folder with data_info.csv (File_ID, Split, the 7 emotions) and <File_ID>.mp4 files',
    )
    .requiredOption(
      '--out <features-dir>',
      'where to write clips/<File_ID>.safetensors, index.json and a report',
    )
    .option('--workers <n>', 'feature worker threads', positiveInt, availableParallelism())
    .option('--jobs <n>', 'clips analysed at once (default: one per worker)', positiveInt)
    .option('--no-progress', 'no progress bar')
    .addHelpText(
      'after',
      '\nResumable: a rerun keeps clips already extracted from an unchanged video and redoes the rest.\nUnreadable clips are listed in extract-report.json and left out of index.json; they do not stop the run.',
    )
    .action(extractCommand);

  const train = program
    .command('train')
    .description(
      "train the model with the seed's recipe in PyTorch (models/training) on features from eri extract",
    )
    .argument('<features-dir>', 'output of eri extract (Train and Val splits with labels)')
    .requiredOption(
      '--out <model-dir>',
      'model package to write (checkpoints go under it too; rerun to resume)',
    );
  const seed = seedRecipe();
  for (const { flag, parse, what } of Object.values(TRAIN_SETTINGS)) {
    const value = seed[flag.replaceAll('-', '_')];
    train.option(`--${flag} <x>`, value === undefined ? what : `${what} (seed: ${value})`, parse);
  }
  train
    .option(
      '--std-floor',
      "floor each video feature's std at its block's median when standardising (this project's; for few training faces)",
    )
    .option(
      '--video-blocks <names>',
      "the video feature blocks the model reads, e.g. expression_probs,face (this project's; default all: the others get no input weight)",
      nameList,
    )
    .option(
      '--audio-blocks <names>',
      "the audio feature blocks the model reads, e.g. voice_activity,audio_present (this project's; default all)",
      nameList,
    )
    .option('--name <name>', 'package name', 'eri-trained')
    .option('--model-version <version>', 'package version', '1.0.0')
    .option('--description <text>', 'what the model is (goes into the model card)')
    .option('--data <text>', 'what the training data is (goes into the model card)')
    .option('--licence <text>', 'the licence the weights may be used under')
    .action(trainCommand);

  program
    .command('eval')
    .description(
      'score a model on extracted features: Pearson r per emotion, their mean (the ABAW5 metric), MAE',
    )
    .argument('<model-dir>', 'model package')
    .argument('<features-dir>', 'output of eri extract')
    .option('--split <name>', "split to score (Train, Val, Test or 'all')", 'Val')
    .option('--out <dir>', 'where to write predictions.csv, metrics.json and scatter.svg')
    .action((modelDir: string, featuresDir: string, o: { split: string; out?: string }) =>
      evalCommand(modelDir, featuresDir, o).then(() => undefined),
    );
}
