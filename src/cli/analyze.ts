import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { from, lastValueFrom, tap } from 'rxjs';
import { estimateSteps } from '../../streams/estimate-steps.js';
import { InferenceBatcher } from '../../streams/inference-batcher.js';
import { EMOTIONS } from '../contracts/emotions.js';
import type { Estimate } from '../contracts/estimate.js';
import { ERI_FACE_AUDIO_SPEC, faceAudioSpec } from '../contracts/feature-spec.js';
import { DEFAULT_ANALYSIS_SIZE } from '../contracts/media-step.js';
import { EriError } from '../errors.js';
import type { MediaInput } from '../features/decode.js';
import { extractFeatures } from '../features/extract.js';
import { faceOptionsFromEnv } from '../features/face/face-settings.js';
import { FeaturePool } from '../features/pool.js';
import { stackRows, writeFeaturesFile } from '../model/features-file.js';
import { EriModel } from '../model/model.js';
import { defaultModelDir } from './default-model.js';
import { positiveInt } from './options.js';

/** `eri analyze`: a media file, URL or stdin through the live pipeline, offline. */

type Format = 'json' | 'csv' | 'ndjson';

interface AnalyzeOptions {
  model?: string;
  format: Format;
  out?: string;
  features?: string;
  window: number;
  stride: number;
  workers: number;
  progress: boolean;
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!(n > 0))
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `expected a positive number of seconds, got '${value}'`);
  return n;
}

const CSV_HEADER = [
  'kind',
  'seq',
  'window_start_s',
  'window_end_s',
  ...EMOTIONS,
  'face_coverage',
  'speech_coverage',
];

function csvRow(e: Estimate): string {
  return [
    e.final ? 'final' : 'running',
    e.seq,
    e.windowStart.toFixed(2),
    e.windowEnd.toFixed(2),
    ...e.values.map((v) => v.toFixed(6)),
    e.coverage.face.toFixed(4),
    e.coverage.speech.toFixed(4),
  ].join(',');
}

/** Writes to a temporary file renamed into place on success, so a failed run leaves nothing half-written. */
class AtomicOutput {
  readonly stream: Writable;
  readonly #path: string | undefined;
  readonly #tmp: string | undefined;

  constructor(path: string | undefined) {
    this.#path = path;
    this.#tmp = path ? `${path}.${process.pid}.partial` : undefined;
    this.stream = this.#tmp ? createWriteStream(this.#tmp) : process.stdout;
  }

  write(text: string): void {
    this.stream.write(text);
  }

  async commit(): Promise<void> {
    if (!this.#tmp || !this.#path) return;
    await new Promise<void>((resolve, reject) =>
      this.stream.end((e?: Error | null) => (e ? reject(e) : resolve())),
    );
    await rename(this.#tmp, this.#path);
  }

  async abort(): Promise<void> {
    if (!this.#tmp) return;
    this.stream.destroy();
    await rm(this.#tmp, { force: true });
  }
}

export async function analyze(input: string, o: AnalyzeOptions): Promise<void> {
  const modelDir = o.model ?? defaultModelDir();
  const faceOptions = faceOptionsFromEnv();
  const spec = faceAudioSpec(faceOptions);
  const model = await EriModel.load(modelDir, { engine: 'local', featureSpec: spec });
  const pool = new FeaturePool({ workers: o.workers, face: faceOptions });
  const out = new AtomicOutput(o.out);
  const rate = ERI_FACE_AUDIO_SPEC.rateHz ?? 10;
  const mediaInput: MediaInput = input === '-' ? { stream: process.stdin, name: 'stdin' } : input;
  const bar =
    o.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: 'analyzing [{bar}] {percentage}% | {value}/{total} s media | {speed} steps/s',
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  const video: Float32Array[] = [];
  const audio: Float32Array[] = [];
  const running: Estimate[] = [];
  const started = performance.now();
  let face = 0;
  let speech = 0;
  if (!model.card.trained)
    process.stderr.write('eri: ** UNTRAINED model: random weights, the intensities mean nothing **\n');
  if (o.format === 'csv') out.write(`${CSV_HEADER.join(',')}\n`);
  const emit = (e: Estimate) => {
    if (o.format === 'ndjson') out.write(`${JSON.stringify({ type: 'estimate', ...e })}\n`);
    else if (o.format === 'csv') out.write(`${csvRow(e)}\n`);
  };
  try {
    let steps = 0;
    let final: Estimate | undefined;
    const features$ = from(
      extractFeatures(mediaInput, pool, {
        width: DEFAULT_ANALYSIS_SIZE.width,
        height: DEFAULT_ANALYSIS_SIZE.height,
        onProbe: (p) => bar?.start(Math.ceil(p.durationS ?? 0), 0, { speed: '0' }),
      }),
    ).pipe(
      tap((step) => {
        if (o.features) {
          video.push(step.video);
          audio.push(step.audio);
        }
        face += step.face.present ? 1 : 0;
        speech += step.speech > 0.5 ? 1 : 0;
        steps = step.index + 1;
        bar?.update(Math.floor(steps / rate), {
          speed: ((steps * 1000) / (performance.now() - started)).toFixed(1),
        });
      }),
    );
    const estimates$ = features$.pipe(
      estimateSteps(
        new InferenceBatcher(model.engine, model.architecture),
        {
          sessionId: input === '-' ? 'stdin' : input,
          roomId: 'analyze',
          model: `${model.card.name}@${model.card.version}`,
          rateHz: rate,
          analysis: 'server',
        },
        {
          windowSteps: Math.max(1, Math.round(o.window * rate)),
          strideSteps: Math.max(1, Math.round(o.stride * rate)),
          // The clip-level estimate covers the whole clip up to 10 minutes (its last 10 minutes beyond:
          // the encoder's attention is quadratic in its length, ~0.6 GB per branch at 10 minutes).
          maxFinalSteps: Math.round(600 * rate),
        },
      ),
      tap((estimate) => {
        if (estimate.final) final = estimate;
        else running.push(estimate);
        emit(estimate);
      }),
    );
    await lastValueFrom(estimates$, { defaultValue: undefined });
    bar?.stop();
    const clip = final as Estimate | undefined;
    if (!clip) throw new EriError('ERI_ERR_MEDIA_DECODE', `${input}: no analysis steps`);
    const summary = {
      input,
      model: { name: model.card.name, version: model.card.version, trained: model.card.trained },
      featureSpec: spec.id,
      rateHz: rate,
      steps,
      durationS: steps / rate,
      coverage: { face: steps ? face / steps : 0, speech: steps ? speech / steps : 0 },
      window: { seconds: o.window, strideSeconds: o.stride },
      elapsedS: (performance.now() - started) / 1000,
    };
    if (o.format === 'json') out.write(`${JSON.stringify({ ...summary, running, final: clip }, null, 2)}\n`);
    if (o.format === 'ndjson') out.write(`${JSON.stringify({ type: 'summary', ...summary })}\n`);
    if (o.features) {
      await writeFeaturesFile(o.features, {
        video: stackRows(video, ERI_FACE_AUDIO_SPEC.video.dim),
        audio: stackRows(audio, ERI_FACE_AUDIO_SPEC.audio.dim),
        featureSpecId: spec.id,
      });
    }
    await out.commit();
    if (o.out || o.format !== 'json') {
      process.stderr.write(
        `eri: ${steps} steps (${summary.durationS.toFixed(1)} s), face ${(summary.coverage.face * 100).toFixed(0)} %, speech ${(summary.coverage.speech * 100).toFixed(0)} %, final ${EMOTIONS.map((e, i) => `${e} ${clip.values[i]?.toFixed(3)}`).join(', ')}\n`,
      );
    }
  } catch (error) {
    bar?.stop();
    await out.abort();
    throw error;
  } finally {
    await pool.close();
    await model.close();
  }
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description(
      'analyse a video file, URL or stdin (-): running estimates every stride and the clip-level estimate',
    )
    .argument(
      '<input>',
      'media file, URL ffmpeg can read, or - for stdin (MKV, WebM, MPEG-TS or faststart MP4)',
    )
    .option('--model <dir>', 'model package (default: $ERI_MODEL or the shipped starter model)')
    .addOption(
      new Option('--format <format>', 'output format').choices(['json', 'csv', 'ndjson']).default('json'),
    )
    .option('--out <file>', 'write the output to a file (written whole on success, nothing on failure)')
    .option(
      '--features <file>',
      'also save the feature sequences (safetensors: video, audio) for eri predict-features',
    )
    .option(
      '--window <seconds>',
      'W: media seconds the transformer sees for a running estimate',
      positiveSeconds,
      30,
    )
    .option('--stride <seconds>', 'S: media seconds between running estimates', positiveSeconds, 1)
    .option('--workers <n>', 'feature worker threads', positiveInt, availableParallelism())
    .option('--no-progress', 'no progress bar (there is none when stderr is not a terminal)')
    .addHelpText(
      'after',
      `
Every estimate has:
  seq                  0, 1, 2 … in order; the final estimate comes last
  windowStart, windowEnd  media seconds the estimate covers (running: the last W seconds; final: the whole clip, or its last 10 minutes)
  intensities, values  the 7 emotions in [0, 1], by name and in the fixed order
                       ${EMOTIONS.join(', ')}
  coverage.face        fraction of the window's steps with a detected face
  coverage.speech      fraction of the window's steps with voice activity > 0.5
  final                true for the clip-level estimate: the model over the whole clip (up to its last 10 minutes), as the reference computes it
  model                name@version of the model package
  latencyMs            from the window's last feature step to the estimate
  steps                analysis steps (${ERI_FACE_AUDIO_SPEC.rateHz} per second) in the window
The json format adds a summary (steps, duration, face and speech coverage over the clip) around the
list of running estimates and the final one; ndjson prints one estimate per line as they are made,
then the summary; csv prints one row per estimate. Feature definitions: docs/features.md.`,
    )
    .action((input: string, o: AnalyzeOptions) => analyze(input, o));
}
