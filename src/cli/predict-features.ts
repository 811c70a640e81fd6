import type { Command } from 'commander';
import { EriError } from '../errors.js';
import { readFeaturesFile } from '../model/features-file.js';
import { EriModel } from '../model/model.js';

/** `eri predict-features`: the offline model on precomputed features. */

function bar(v: number, width = 30): string {
  const n = Math.round(Math.max(0, Math.min(1, v)) * width);
  return `${'█'.repeat(n)}${'·'.repeat(width - n)}`;
}

export function registerPredictFeatures(program: Command): void {
  program
    .command('predict-features')
    .description(
      'run the model over precomputed features (a safetensors file with video [T,Dv] and audio [A,Da])',
    )
    .requiredOption('--model <dir>', 'model package directory')
    .requiredOption('--input <file>', 'features file (.safetensors)')
    .option('--json', 'print JSON: intensities by name and in order, plus token_video and token_audio')
    .addHelpText(
      'after',
      `
Output: one intensity in [0, 1] per emotion, in the model card's order, computed as the reference does
over the whole clip (GRU over every step, transformer with the regression token, head, sigmoid).
With --json also token_video and token_audio: each branch's regression-token output (its width, 256
for the reference sizes). A modality the card marks optional may be absent from the file; its branch
then sees no steps.`,
    )
    .action(async (o: { model: string; input: string; json?: boolean }) => {
      const features = await readFeaturesFile(o.input);
      const model = await EriModel.load(o.model, { engine: 'local' });
      try {
        if (features.featureSpecId && features.featureSpecId !== model.card.featureSpec.id) {
          throw new EriError(
            'ERI_ERR_FEATURE_SPEC_MISMATCH',
            `${o.input} holds '${features.featureSpecId}' features but model ${model.card.name} expects '${model.card.featureSpec.id}'`,
          );
        }
        const p = await model.predict(features);
        const emotions = model.emotions;
        if (o.json) {
          console.log(
            JSON.stringify({
              model: { name: model.card.name, version: model.card.version, trained: model.card.trained },
              steps: p.steps,
              emotions: [...emotions],
              intensities: Array.from(p.intensities),
              byEmotion: Object.fromEntries(emotions.map((e, i) => [e, p.intensities[i]])),
              token_video: Array.from(p.tokenVideo),
              token_audio: Array.from(p.tokenAudio),
            }),
          );
          return;
        }
        if (!model.card.trained)
          console.log('** UNTRAINED model: random weights, these numbers mean nothing **');
        console.log(
          `model ${model.card.name}@${model.card.version}; ${o.input}: ${p.steps.video} video steps, ${p.steps.audio} audio steps`,
        );
        const width = Math.max(...emotions.map((e) => e.length));
        emotions.forEach((e, i) => {
          const v = p.intensities[i] ?? 0;
          console.log(`${e.padEnd(width)}  ${v.toFixed(4)}  ${bar(v)}`);
        });
      } finally {
        await model.close();
      }
    });
}
