import type { FeatureSpec } from '../contracts/feature-spec.js';
import { EriError } from '../errors.js';
import { type InferenceEngine, LocalEngine } from './engine.js';
import { cachedGraphs, defaultCacheRoot, graphCacheKey } from './graph-cache.js';
import { loadModelPackage, type ModelCard, type ModelPackage } from './package.js';
import { PooledEngine } from './pooled-engine.js';
import type { Float32Tensor } from './safetensors.js';
import { BRANCHES, type Branch, type ModelArchitecture } from './weights.js';

/**
 * A loaded model package with an inference engine behind it: the one object the CLI, the pipeline and
 * the server use. `predict` is the reference's offline computation over whole clips.
 */

export interface LoadModelOptions {
  /** 'pool' (worker threads, for servers) or 'local' (this thread, for one-shot CLI work). */
  engine?: 'local' | 'pool';
  workers?: number;
  intraOpThreads?: number;
  cacheRoot?: string;
  /** Refuse a package that expects other features than this extractor produces. */
  featureSpec?: FeatureSpec;
}

export interface ClipFeatures {
  /** [T, videoDim]; absent or T = 0 means no video. */
  video?: Float32Tensor;
  /** [A, audioDim]; absent or A = 0 means no audio. */
  audio?: Float32Tensor;
}

export interface Prediction {
  intensities: Float32Array;
  tokenVideo: Float32Array;
  tokenAudio: Float32Array;
  steps: Record<Branch, number>;
}

export class EriModel {
  readonly package: ModelPackage;
  readonly engine: InferenceEngine;

  private constructor(pkg: ModelPackage, engine: InferenceEngine) {
    this.package = pkg;
    this.engine = engine;
  }

  static async load(dir: string, options: LoadModelOptions = {}): Promise<EriModel> {
    const pkg = await loadModelPackage(dir, options.featureSpec ? { featureSpec: options.featureSpec } : {});
    const graphs = await cachedGraphs(pkg.weights, options.cacheRoot ?? defaultCacheRoot());
    const arch = pkg.weights.architecture;
    const engineOptions = { intraOpThreads: options.intraOpThreads ?? 1 };
    const engine =
      (options.engine ?? 'pool') === 'pool'
        ? new PooledEngine(
            { key: graphCacheKey(pkg.weights), architecture: arch, graphs },
            { ...engineOptions, ...(options.workers ? { workers: options.workers } : {}) },
          )
        : await LocalEngine.create(arch, graphs, engineOptions);
    return new EriModel(pkg, engine);
  }

  get card(): ModelCard {
    return this.package.card;
  }

  /** The package's directory (its README is the readable model card). */
  get dir(): string {
    return this.package.dir;
  }

  get architecture(): ModelArchitecture {
    return this.package.weights.architecture;
  }

  get emotions(): readonly string[] {
    return this.card.emotions;
  }

  /** Checks one modality's features against the card; returns the number of steps (0 = absent). */
  validateFeatures(branch: Branch, tensor: Float32Tensor | undefined): number {
    const dim = this.architecture[branch].inputDim;
    const steps = tensor ? (tensor.shape[0] ?? 0) : 0;
    if (tensor && (tensor.shape.length !== 2 || tensor.shape[1] !== dim)) {
      throw new EriError(
        'ERI_ERR_FEATURE_SPEC_MISMATCH',
        `${branch} features have shape ${JSON.stringify(tensor.shape)} but model ${this.card.name} ` +
          `(feature spec '${this.card.featureSpec.id}') takes [T, ${dim}]`,
      );
    }
    if (steps === 0 && this.card.modalities[branch] === 'required') {
      throw new EriError(
        'ERI_ERR_MODALITY_MISSING',
        `model ${this.card.name} requires ${branch} features, and none were given`,
      );
    }
    if (tensor) {
      const bad = tensor.data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) {
        throw new EriError(
          'ERI_ERR_TENSOR_VALUES',
          `${branch} features hold ${tensor.data[bad]} at step ${Math.floor(bad / dim)}, feature ${bad % dim}`,
        );
      }
    }
    return steps;
  }

  /**
   * A branch's token over a whole sequence. With no steps the transformer sees the regression token
   * alone (one masked dummy step stands in, since a zero-length time axis is not portable across ops).
   */
  async branchToken(branch: Branch, tensor: Float32Tensor | undefined): Promise<Float32Array> {
    const steps = this.validateFeatures(branch, tensor);
    const hidden = this.architecture[branch].hidden;
    if (steps === 0 || !tensor) {
      return this.engine.encode({
        branch,
        batch: 1,
        time: 1,
        gru: new Float32Array(hidden),
        mask: new Uint8Array(1),
      });
    }
    const gru = await this.engine.gruSequence({
      branch,
      batch: 1,
      time: steps,
      x: tensor.data,
      lengths: new Int32Array([steps]),
    });
    return this.engine.encode({
      branch,
      batch: 1,
      time: steps,
      gru: gru.y,
      mask: new Uint8Array(steps).fill(1),
    });
  }

  /** The reference's clip-level estimate: GRU over each whole sequence, transformer, head, sigmoid. */
  async predict(features: ClipFeatures): Promise<Prediction> {
    for (const branch of BRANCHES) this.validateFeatures(branch, features[branch]);
    const [tokenVideo, tokenAudio] = await Promise.all([
      this.branchToken('video', features.video),
      this.branchToken('audio', features.audio),
    ]);
    const intensities = await this.engine.head({ batch: 1, tokenVideo, tokenAudio });
    return {
      intensities,
      tokenVideo,
      tokenAudio,
      steps: { video: features.video?.shape[0] ?? 0, audio: features.audio?.shape[0] ?? 0 },
    };
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}
