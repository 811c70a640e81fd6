import type { Float32Tensor } from './safetensors.js';
import { expectedTensors, type ModelArchitecture } from './weights.js';

/**
 * Random weights with PyTorch's default initialisations (so an untrained package behaves like a freshly
 * constructed reference model): Linear and GRU uniform in ±1/sqrt(fan), LayerNorm weight 1 / bias 0,
 * the regression token standard normal. Seeded, so `eri model init --random --seed N` is reproducible.
 */

/** mulberry32: a small, fast, well-distributed 32-bit PRNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SeededRandom {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.#next();
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = Math.max(this.#next(), Number.MIN_VALUE);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.#next());
  }

  fill(shape: number[], draw: () => number): Float32Tensor {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = draw();
    return { shape, data };
  }
}

export function randomWeights(arch: ModelArchitecture, seed: number): Map<string, Float32Tensor> {
  const rng = new SeededRandom(seed);
  const out = new Map<string, Float32Tensor>();
  for (const [name, shape] of expectedTensors(arch)) {
    let tensor: Float32Tensor;
    if (name.endsWith('norm.weight')) {
      tensor = { shape, data: new Float32Array(shape[0] as number).fill(1) };
    } else if (name.endsWith('norm.bias')) {
      tensor = { shape, data: new Float32Array(shape[0] as number) };
    } else if (name.startsWith('reg_token')) {
      tensor = rng.fill(shape, () => rng.normal());
    } else if (/\.(weight|bias)_(ih|hh)_l\d+$/.test(name)) {
      // torch.nn.GRU: every parameter ~ U(-1/sqrt(hidden), 1/sqrt(hidden)); hidden = rows / 3.
      const bound = 1 / Math.sqrt((shape[0] as number) / 3);
      tensor = rng.fill(shape, () => rng.uniform(-bound, bound));
    } else {
      // torch.nn.Linear (kaiming_uniform a=sqrt(5)) gives weight and bias bound 1/sqrt(fan_in).
      const fanIn = name.endsWith('.bias') ? lastFanIn(out, name) : (shape[1] as number);
      const bound = 1 / Math.sqrt(fanIn);
      tensor = rng.fill(shape, () => rng.uniform(-bound, bound));
    }
    out.set(name, tensor);
  }
  return out;
}

/** A Linear's bias uses its weight's fan-in; the weight comes just before it in `expectedTensors`. */
function lastFanIn(made: Map<string, Float32Tensor>, biasName: string): number {
  const weight = made.get(biasName.replace(/\.bias$/, '.weight'));
  return (weight?.shape[1] as number | undefined) ?? 1;
}
