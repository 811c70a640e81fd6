import { BRANCH_PREFIX, type Branch, gruNames, type ModelWeights } from './weights.js';

/**
 * The same model in plain TypeScript loops (no onnxruntime): the baseline `eri bench estimate` compares
 * onnxruntime against, and a second, independent implementation of the semantics the graphs encode
 * (see graphs.ts); the tests hold the two to 1e-4.
 */

function tensor(weights: ModelWeights, name: string): Float32Array {
  const t = weights.tensors.get(name);
  if (!t) throw new Error(`internal: no tensor ${name}`);
  return t.data;
}

/** y[n, out] = x[n, in] · W[out, in]ᵀ (+ b). */
function linear(x: Float32Array, n: number, w: Float32Array, out: number, b?: Float32Array): Float32Array {
  const inDim = w.length / out;
  const y = new Float32Array(n * out);
  for (let i = 0; i < n; i++) {
    const xo = i * inDim;
    for (let o = 0; o < out; o++) {
      const wo = o * inDim;
      let s = b ? (b[o] as number) : 0;
      for (let k = 0; k < inDim; k++) s += (x[xo + k] as number) * (w[wo + k] as number);
      y[i * out + o] = s;
    }
  }
  return y;
}

function layerNorm(x: Float32Array, n: number, d: number, g: Float32Array, b: Float32Array): Float32Array {
  const y = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (let k = 0; k < d; k++) mean += x[i * d + k] as number;
    mean /= d;
    let v = 0;
    for (let k = 0; k < d; k++) v += ((x[i * d + k] as number) - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + 1e-5);
    for (let k = 0; k < d; k++)
      y[i * d + k] = ((x[i * d + k] as number) - mean) * inv * (g[k] as number) + (b[k] as number);
  }
  return y;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** erf from the Chebyshev fit of erfc in Numerical Recipes (fractional error < 1.2e-7): exact GELU, as torch computes it. */
function erf(x: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    1 -
    t *
      Math.exp(
        -x * x -
          1.26551223 +
          t *
            (1.00002368 +
              t *
                (0.37409196 +
                  t *
                    (0.09678418 +
                      t *
                        (-0.18628806 +
                          t *
                            (0.27886807 +
                              t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
  return x >= 0 ? y : -y;
}

export class PlainModel {
  readonly #w: ModelWeights;

  constructor(weights: ModelWeights) {
    this.#w = weights;
  }

  /** One GRU step of every layer of a branch: h [layers·H] in, the new h out (y is its last layer). */
  gruStep(branch: Branch, x: Float32Array, h: Float32Array): Float32Array {
    const a = this.#w.architecture[branch];
    const H = a.hidden;
    const out = new Float32Array(h.length);
    let input = x;
    for (let l = 0; l < a.gruLayers; l++) {
      const [wih, whh, bih, bhh] = gruNames(BRANCH_PREFIX[branch].rnn, l).map((n) =>
        tensor(this.#w, n),
      ) as Float32Array[];
      const hPrev = h.subarray(l * H, (l + 1) * H);
      const gi = linear(input, 1, wih as Float32Array, 3 * H, bih);
      const gh = linear(hPrev, 1, whh as Float32Array, 3 * H, bhh);
      for (let k = 0; k < H; k++) {
        const r = sigmoid((gi[k] as number) + (gh[k] as number));
        const z = sigmoid((gi[H + k] as number) + (gh[H + k] as number));
        const n = Math.tanh((gi[2 * H + k] as number) + r * (gh[2 * H + k] as number));
        out[l * H + k] = (1 - z) * n + z * (hPrev[k] as number);
      }
      input = out.subarray(l * H, (l + 1) * H);
    }
    return out;
  }

  /** The regression token's output after the transformer over [token; gru (time × H)]. */
  encode(branch: Branch, gru: Float32Array, time: number): Float32Array {
    const a = this.#w.architecture[branch];
    const p = BRANCH_PREFIX[branch];
    const d = a.hidden;
    const n = time + 1;
    const inner = a.heads * a.dimHead;
    let x = new Float32Array(n * d);
    x.set(tensor(this.#w, p.token), 0);
    x.set(gru.subarray(0, time * d), d);
    const scale = a.dimHead ** -0.5;
    for (let i = 0; i < a.depth; i++) {
      const l = `${p.transformer}.layers.${i}`;
      // As the built graph does: in the last layer only the token's row goes on (it alone is returned).
      const rows = i === a.depth - 1 ? 1 : n;
      const y = layerNorm(
        x,
        n,
        d,
        tensor(this.#w, `${l}.0.norm.weight`),
        tensor(this.#w, `${l}.0.norm.bias`),
      );
      const qkv = linear(y, n, tensor(this.#w, `${l}.0.fn.to_qkv.weight`), 3 * inner);
      const heads = new Float32Array(rows * inner);
      const scores = new Float32Array(n);
      for (let hd = 0; hd < a.heads; hd++) {
        const off = hd * a.dimHead;
        for (let qi = 0; qi < rows; qi++) {
          let max = Number.NEGATIVE_INFINITY;
          for (let ki = 0; ki < n; ki++) {
            let s = 0;
            for (let c = 0; c < a.dimHead; c++)
              s +=
                (qkv[qi * 3 * inner + off + c] as number) * (qkv[ki * 3 * inner + inner + off + c] as number);
            scores[ki] = s * scale;
            if (s * scale > max) max = s * scale;
          }
          let sum = 0;
          for (let ki = 0; ki < n; ki++) {
            scores[ki] = Math.exp((scores[ki] as number) - max);
            sum += scores[ki] as number;
          }
          for (let c = 0; c < a.dimHead; c++) {
            let v = 0;
            for (let ki = 0; ki < n; ki++)
              v += (scores[ki] as number) * (qkv[ki * 3 * inner + 2 * inner + off + c] as number);
            heads[qi * inner + off + c] = v / sum;
          }
        }
      }
      if (rows < n) x = x.slice(0, rows * d);
      const attn = linear(
        heads,
        rows,
        tensor(this.#w, `${l}.0.fn.to_out.0.weight`),
        d,
        tensor(this.#w, `${l}.0.fn.to_out.0.bias`),
      );
      for (let k = 0; k < x.length; k++) x[k] = (x[k] as number) + (attn[k] as number);
      const y2 = layerNorm(
        x,
        rows,
        d,
        tensor(this.#w, `${l}.1.norm.weight`),
        tensor(this.#w, `${l}.1.norm.bias`),
      );
      const h1 = linear(
        y2,
        rows,
        tensor(this.#w, `${l}.1.fn.net.0.weight`),
        a.mlpDim,
        tensor(this.#w, `${l}.1.fn.net.0.bias`),
      );
      for (let k = 0; k < h1.length; k++) {
        const v = h1[k] as number;
        h1[k] = 0.5 * v * (1 + erf(v / Math.SQRT2));
      }
      const h2 = linear(
        h1,
        rows,
        tensor(this.#w, `${l}.1.fn.net.3.weight`),
        d,
        tensor(this.#w, `${l}.1.fn.net.3.bias`),
      );
      const next = new Float32Array(x.length);
      for (let k = 0; k < x.length; k++) next[k] = (x[k] as number) + (h2[k] as number);
      x = next;
    }
    return x.slice(0, d);
  }

  head(tokenVideo: Float32Array, tokenAudio: Float32Array): Float32Array {
    const arch = this.#w.architecture;
    const cat = new Float32Array(tokenVideo.length + tokenAudio.length);
    cat.set(tokenVideo, 0);
    cat.set(tokenAudio, tokenVideo.length);
    const h0 = linear(cat, 1, tensor(this.#w, 'head.0.weight'), arch.headHidden);
    const h2 = linear(h0, 1, tensor(this.#w, 'head.2.weight'), arch.outputs);
    return h2.map(sigmoid);
  }
}
