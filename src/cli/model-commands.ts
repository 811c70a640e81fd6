import type { Command } from 'commander';
import { EriError } from '../errors.js';
import { writeFeaturesFile } from '../model/features-file.js';
import { writeGraphs } from '../model/graph-cache.js';
import { SeededRandom } from '../model/init.js';
import { loadModelPackage, type ModelPackage } from '../model/package.js';
import { importWeights, initRandomPackage, resolveFeatureSpec } from '../model/package-tools.js';
import { modalityList, nonNegativeInt, positiveInt } from './options.js';

/** `eri model …`: make, inspect and export model packages. */

export function describePackage(pkg: ModelPackage): string {
  const c = pkg.card;
  const a = pkg.weights.architecture;
  const branch = (b: 'video' | 'audio') => {
    const x = a[b];
    return `${b}: ${x.inputDim} features -> GRU ${x.gruLayers}x${x.hidden} -> transformer ${x.depth} layers, ${x.heads}x${x.dimHead} heads, MLP ${x.mlpDim} (${c.modalities[b]})`;
  };
  return [
    `${c.name}@${c.version}${c.trained ? '' : '   ** UNTRAINED: random weights, outputs are meaningless **'}`,
    `  ${c.description}`,
    `  emotions:     ${c.emotions.join(', ')}`,
    `  features:     ${c.featureSpec.id} (video ${c.featureSpec.video.dim} = ${c.featureSpec.video.layout.map((b) => `${b.name} ${b.size}`).join(' + ')}; audio ${c.featureSpec.audio.dim}; rate ${c.featureSpec.rateHz ?? 'unset'} Hz)`,
    `  ${branch('video')}`,
    `  ${branch('audio')}`,
    `  head:         ${a.video.hidden + a.audio.hidden} -> ${a.headHidden} -> ${a.outputs}, sigmoid`,
    `  training:     ${c.training.data}${c.training.recipe ? `; ${c.training.recipe}` : ''}`,
    `  metrics:      ${c.metrics.length ? c.metrics.map((m) => `${m.name} (${m.split}) ${m.value}`).join('; ') : 'none recorded'}`,
    `  licence:      ${c.licence}`,
    `  weights:      ${pkg.weights.sha256}`,
    ...(pkg.weights.ignored.length ? [`  ignored tensors: ${pkg.weights.ignored.join(', ')}`] : []),
  ].join('\n');
}

export function registerModelCommands(program: Command): void {
  const model = program
    .command('model')
    .description('make, inspect and export model packages (model.json + weights.safetensors)');

  model
    .command('info')
    .description('print a model package card and check its weights against it')
    .argument('<dir>', 'model package directory')
    .option('--json', 'print the card as JSON')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const pkg = await loadModelPackage(dir);
      console.log(opts.json ? JSON.stringify(pkg.card, null, 2) : describePackage(pkg));
    });

  model
    .command('export')
    .description(
      'write the ONNX graphs (GRU step and sequence, encoder per branch, head) built from the weights',
    )
    .argument('<dir>', 'model package directory')
    .requiredOption('--out <dir>', 'directory for the .onnx files')
    .action(async (dir: string, opts: { out: string }) => {
      const pkg = await loadModelPackage(dir);
      const paths = await writeGraphs(pkg.weights, opts.out);
      for (const [id, path] of Object.entries(paths)) console.log(`${id.padEnd(16)} ${path}`);
    });

  model
    .command('import')
    .description('make a package from weights in the reference state_dict names; every size is inferred')
    .argument(
      '<weights>',
      "a .safetensors state_dict (e.g. a Lightning checkpoint's state_dict saved with safetensors)",
    )
    .requiredOption('--out <dir>', 'package directory to write')
    .option('--name <name>', 'package name', 'imported-eri')
    .option('--model-version <version>', 'package version', '1.0.0')
    .option('--feature-spec <id>', 'the features the weights were trained on', 'abaw5-reference')
    .option('--heads <n>', 'attention heads (not recoverable from shapes)', positiveInt, 4)
    .option('--dim-head <n>', 'width of each attention head', positiveInt, 64)
    .option('--optional <modalities>', 'modalities that may be absent (video,audio)', modalityList)
    .option('--training-data <text>', 'what the weights were trained on')
    .option('--licence <text>', 'licence of the weights')
    .action(async (weights: string, o) => {
      const pkg = await importWeights(weights, o.out, {
        name: o.name,
        version: o.modelVersion,
        featureSpec: o.featureSpec,
        attention: { heads: o.heads, dimHead: o.dimHead },
        ...(o.optional ? { optionalModalities: o.optional } : {}),
        ...(o.trainingData ? { trainingData: o.trainingData } : {}),
        ...(o.licence ? { licence: o.licence } : {}),
      });
      console.log(`wrote ${o.out}\n${describePackage(pkg)}`);
    });

  model
    .command('init')
    .description('make an UNTRAINED package with random weights (reference sizes), for tests and demos')
    .requiredOption('--random', 'random weights: required, so nobody makes an untrained model by accident')
    .requiredOption('--out <dir>', 'package directory to write')
    .option(
      '--feature-spec <id>',
      "features the model takes: eri-face-audio-v2 (this server's extractor) or abaw5-reference",
      'eri-face-audio-v2',
    )
    .option(
      '--video-dim <n>',
      'video features per step, for features of your own (overrides --feature-spec)',
      positiveInt,
    )
    .option(
      '--audio-dim <n>',
      'audio features per step, for features of your own (overrides --feature-spec)',
      positiveInt,
    )
    .option('--seed <n>', 'random seed', nonNegativeInt, 0)
    .option('--name <name>', 'package name', 'eri-untrained')
    .action(async (o) => {
      const pkg = await initRandomPackage(o.out, {
        seed: o.seed,
        name: o.name,
        featureSpec: resolveFeatureSpec(o.featureSpec),
        ...(o.videoDim ? { videoDim: o.videoDim } : {}),
        ...(o.audioDim ? { audioDim: o.audioDim } : {}),
      });
      console.log(`wrote ${o.out}\n${describePackage(pkg)}`);
    });

  model
    .command('sample-input')
    .description('write a features file of random values in the layout a package expects (to try the format)')
    .argument('<dir>', 'model package directory')
    .requiredOption('--out <file>', 'features file (.safetensors) to write')
    .option('--video-steps <n>', 'video steps', nonNegativeInt, 100)
    .option('--audio-steps <n>', 'audio steps', nonNegativeInt, 100)
    .option('--seed <n>', 'random seed', nonNegativeInt, 0)
    .action(async (dir: string, o) => {
      const pkg = await loadModelPackage(dir);
      if (o.videoSteps === 0 && o.audioSteps === 0) {
        throw new EriError(
          'ERI_ERR_INVALID_ARGUMENT',
          'at least one of --video-steps and --audio-steps must be positive',
        );
      }
      const rng = new SeededRandom(o.seed);
      const a = pkg.weights.architecture;
      const make = (steps: number, dim: number) =>
        steps > 0 ? rng.fill([steps, dim], () => rng.normal()) : undefined;
      const video = make(o.videoSteps, a.video.inputDim);
      const audio = make(o.audioSteps, a.audio.inputDim);
      await writeFeaturesFile(o.out, {
        ...(video ? { video } : {}),
        ...(audio ? { audio } : {}),
        featureSpecId: pkg.card.featureSpec.id,
      });
      console.log(
        `wrote ${o.out}: video [${o.videoSteps}, ${a.video.inputDim}], audio [${o.audioSteps}, ${a.audio.inputDim}] (random values)`,
      );
    });
}
