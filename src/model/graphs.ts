import { GraphBuilder } from '../onnx/graph-builder.js';
import type { Float32Tensor } from './safetensors.js';
import { BRANCH_PREFIX, type Branch, gruNames, type ModelWeights } from './weights.js';

/**
 * The model as ONNX graphs, with the reference's semantics (PyTorch):
 * - GRU: gates (r, z, n), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)). ONNX orders gates (z, r, h)
 *   and needs linear_before_reset=1 for that form of n.
 * - Transformer layer (pre-norm, lucidrains ViT style): x + Attn(LN(x)), then x + FF(LN(x)); LayerNorm
 *   eps 1e-5; attention softmax(q k^T * dimHead^-0.5) v with to_qkv split q|k|v; FF = Linear, exact
 *   (erf) GELU, Linear; no positional encoding, no final norm; the regression token sits at position 0.
 * - Head: concat(video token, audio token) -> head.0 -> head.2 -> sigmoid, no bias, nothing between.
 *
 * Graphs, each with a symbolic batch so sessions can be micro-batched:
 * - gru_step:  x [B,D], h [L,B,H] -> y [B,H], h_next [L,B,H]
 * - gru_seq:   x [B,T,D], lengths [B] int32 -> y [B,T,H] (zeros past each length), h [L,B,H]
 * - encoder:   gru [B,T,H], mask [B,T] bool (true = real step) -> token [B,H]
 * - head:      token_video [B,Hv], token_audio [B,Ha] -> intensities [B,E]
 */

export const GRAPH_BUILDER_VERSION = 2;

export type GraphName = 'gru_step' | 'gru_seq' | 'encoder' | 'head';
export type GraphId = `${GraphName}.${Branch}` | 'head';

export const GRAPH_IDS: readonly GraphId[] = [
  'gru_step.video',
  'gru_seq.video',
  'encoder.video',
  'gru_step.audio',
  'gru_seq.audio',
  'encoder.audio',
  'head',
];

function tensor(weights: ModelWeights, name: string): Float32Tensor {
  const t = weights.tensors.get(name);
  if (!t) throw new Error(`internal: weights lack '${name}' after validation`);
  return t;
}

/** [rows, cols] -> [cols, rows], so the graph computes x @ W^T as one MatMul. */
export function transpose2d(t: Float32Tensor, scale = 1): Float32Tensor {
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = (t.data[r * cols + c] as number) * scale;
  }
  return { shape: [cols, rows], data: out };
}

/** PyTorch gate blocks (r, z, n) along axis 0 -> ONNX order (z, r, h), with a leading direction axis. */
function gatesToOnnx(t: Float32Tensor, hidden: number): Float32Tensor {
  const rowLen = t.shape.length === 2 ? (t.shape[1] as number) : 1;
  const block = hidden * rowLen;
  const out = new Float32Array(t.data.length);
  out.set(t.data.subarray(block, 2 * block), 0); // z
  out.set(t.data.subarray(0, block), block); // r
  out.set(t.data.subarray(2 * block, 3 * block), 2 * block); // n
  return { shape: [1, ...t.shape], data: out };
}

interface GruLayerInputs {
  W: string;
  R: string;
  B: string;
}

function gruLayerInitializers(
  g: GraphBuilder,
  weights: ModelWeights,
  branch: Branch,
  layer: number,
): GruLayerInputs {
  const hidden = weights.architecture[branch].hidden;
  const [wih, whh, bih, bhh] = gruNames(BRANCH_PREFIX[branch].rnn, layer).map((n) => tensor(weights, n)) as [
    Float32Tensor,
    Float32Tensor,
    Float32Tensor,
    Float32Tensor,
  ];
  const bias = new Float32Array(6 * hidden);
  bias.set(gatesToOnnx(bih, hidden).data, 0);
  bias.set(gatesToOnnx(bhh, hidden).data, 3 * hidden);
  return {
    W: g.float(`W_l${layer}`, gatesToOnnx(wih, hidden)),
    R: g.float(`R_l${layer}`, gatesToOnnx(whh, hidden)),
    B: g.float(`B_l${layer}`, { shape: [1, 6 * hidden], data: bias }),
  };
}

const GRU_ATTRS = (hidden: number) => ({ hidden_size: hidden, linear_before_reset: 1 });

export function buildGruStep(weights: ModelWeights, branch: Branch): Uint8Array {
  const a = weights.architecture[branch];
  const g = new GraphBuilder(`gru_step_${branch}`);
  const x = g.input('x', 'float', ['batch', a.inputDim]);
  const h = g.input('h', 'float', [a.gruLayers, 'batch', a.hidden]);
  const axis0 = g.int64('axis0', [0]);
  const axis1 = g.int64('axis1', [1]);
  let layerInput = g.node('Unsqueeze', [x, axis0]); // [1,B,D]
  const states: string[] = [];
  for (let l = 0; l < a.gruLayers; l++) {
    const w = gruLayerInitializers(g, weights, branch, l);
    const h0 = g.node('Slice', [h, g.int64('s', [l]), g.int64('e', [l + 1]), axis0]); // [1,B,H]
    const [y, yh] = g.nodeN('GRU', [layerInput, w.W, w.R, w.B, '', h0], 2, GRU_ATTRS(a.hidden)) as [
      string,
      string,
    ];
    layerInput = g.node('Squeeze', [y, axis1]); // [1,B,H]
    states.push(yh);
  }
  g.output(g.node('Squeeze', [layerInput, axis0]), 'y', 'float', ['batch', a.hidden]);
  g.output(
    states.length === 1 ? (states[0] as string) : g.node('Concat', states, { axis: 0 }),
    'h_next',
    'float',
    [a.gruLayers, 'batch', a.hidden],
  );
  return g.encode();
}

export function buildGruSequence(weights: ModelWeights, branch: Branch): Uint8Array {
  const a = weights.architecture[branch];
  const g = new GraphBuilder(`gru_seq_${branch}`);
  const x = g.input('x', 'float', ['batch', 'time', a.inputDim]);
  const lengths = g.input('lengths', 'int32', ['batch']);
  const axis1 = g.int64('axis1', [1]);
  let layerInput = g.node('Transpose', [x], { perm: [1, 0, 2] }); // [T,B,D]
  const states: string[] = [];
  for (let l = 0; l < a.gruLayers; l++) {
    const w = gruLayerInitializers(g, weights, branch, l);
    const [y, yh] = g.nodeN('GRU', [layerInput, w.W, w.R, w.B, lengths], 2, GRU_ATTRS(a.hidden)) as [
      string,
      string,
    ];
    layerInput = g.node('Squeeze', [y, axis1]); // [T,B,H]
    states.push(yh);
  }
  g.output(g.node('Transpose', [layerInput], { perm: [1, 0, 2] }), 'y', 'float', ['batch', 'time', a.hidden]);
  g.output(
    states.length === 1 ? (states[0] as string) : g.node('Concat', states, { axis: 0 }),
    'h',
    'float',
    [a.gruLayers, 'batch', a.hidden],
  );
  return g.encode();
}

/** Masked positions get this added to their attention scores: exp() of it is exactly 0 in float32. */
const MASKED_SCORE = -1e9;

export function buildEncoder(weights: ModelWeights, branch: Branch): Uint8Array {
  const a = weights.architecture[branch];
  const p = BRANCH_PREFIX[branch];
  const inner = a.heads * a.dimHead;
  const g = new GraphBuilder(`encoder_${branch}`);
  const gru = g.input('gru', 'float', ['batch', 'time', a.hidden]);
  const mask = g.input('mask', 'bool', ['batch', 'time']);

  // [reg_token; gru] along time, the token broadcast over the batch.
  const batch = g.node('Slice', [g.node('Shape', [gru]), g.int64('s', [0]), g.int64('e', [1])]);
  const tokShape = g.node('Concat', [batch, g.int64('one_h', [1, a.hidden])], { axis: 0 });
  const tok = g.node('Expand', [g.float(p.token, tensor(weights, p.token)), tokShape]);
  let x = g.node('Concat', [tok, gru], { axis: 1 }); // [B,N,H]

  // Additive key mask [B,1,1,N]: 0 for the token and real steps, MASKED_SCORE for padding.
  const maskF = g.node('Cast', [mask], { to: 1 });
  const padBias = g.node('Mul', [g.node('Sub', [maskF, g.scalar('one', 1)]), g.scalar('big', -MASKED_SCORE)]);
  const keyBias = g.node('Pad', [padBias, g.int64('pads', [0, 1, 0, 0])], { mode: 'constant' });
  const bias = g.node('Unsqueeze', [keyBias, g.int64('axes12', [1, 2])]);

  const headsShape = g.int64('heads_shape', [0, 0, a.heads, a.dimHead]);
  const mergeShape = g.int64('merge_shape', [0, 0, inner]);
  const split = g.int64('qkv_split', [inner, inner, inner]);
  const scale = a.dimHead ** -0.5;
  const tokenRow = (t: string) =>
    g.node('Slice', [t, g.int64('row0_s', [0]), g.int64('row0_e', [1]), g.int64('row0_axis', [1])]);
  for (let i = 0; i < a.depth; i++) {
    const l = `${p.transformer}.layers.${i}`;
    // Only the token's output leaves the encoder, and nothing follows the last layer: there, only the
    // token needs a query, an attention row, the output projection and the MLP (every position still
    // gives its key and value). A quarter of the encoder's work less; the same numbers.
    const last = i === a.depth - 1;
    const ln1 = g.node(
      'LayerNormalization',
      [
        x,
        g.float(`${l}.0.norm.weight`, tensor(weights, `${l}.0.norm.weight`)),
        g.float(`${l}.0.norm.bias`, tensor(weights, `${l}.0.norm.bias`)),
      ],
      { axis: -1, epsilon: { float: 1e-5 } },
    );
    const qkvW = transpose2d(tensor(weights, `${l}.0.fn.to_qkv.weight`)); // [H, 3*inner]
    // Fold the attention scale into the q columns; for dimHead 64 it is 1/8, a power of two, so exact.
    for (let r = 0; r < a.hidden; r++) {
      for (let c = 0; c < inner; c++)
        qkvW.data[r * 3 * inner + c] = (qkvW.data[r * 3 * inner + c] as number) * scale;
    }
    let q: string;
    let k: string;
    let v: string;
    if (last) {
      const [wq, wkv] = splitColumns(qkvW, inner);
      q = g.node('MatMul', [tokenRow(ln1), g.float(`${l}.0.fn.to_q`, wq)]);
      const kv = g.node('MatMul', [ln1, g.float(`${l}.0.fn.to_kv`, wkv)]);
      [k, v] = g.nodeN('Split', [kv, g.int64('kv_split', [inner, inner])], 2, { axis: -1 }) as [
        string,
        string,
      ];
      x = tokenRow(x);
    } else {
      const qkv = g.node('MatMul', [ln1, g.float(`${l}.0.fn.to_qkv`, qkvW)]);
      [q, k, v] = g.nodeN('Split', [qkv, split], 3, { axis: -1 }) as [string, string, string];
    }
    const qh = g.node('Transpose', [g.node('Reshape', [q, headsShape])], { perm: [0, 2, 1, 3] }); // [B,h,N,d]
    const kh = g.node('Transpose', [g.node('Reshape', [k, headsShape])], { perm: [0, 2, 3, 1] }); // [B,h,d,N]
    const vh = g.node('Transpose', [g.node('Reshape', [v, headsShape])], { perm: [0, 2, 1, 3] }); // [B,h,N,d]
    const attn = g.node('Softmax', [g.node('Add', [g.node('MatMul', [qh, kh]), bias])], { axis: -1 });
    const ctx = g.node('Reshape', [
      g.node('Transpose', [g.node('MatMul', [attn, vh])], { perm: [0, 2, 1, 3] }),
      mergeShape,
    ]);
    const out = g.node('Add', [
      g.node('MatMul', [
        ctx,
        g.float(`${l}.0.fn.to_out.0.weight`, transpose2d(tensor(weights, `${l}.0.fn.to_out.0.weight`))),
      ]),
      g.float(`${l}.0.fn.to_out.0.bias`, tensor(weights, `${l}.0.fn.to_out.0.bias`)),
    ]);
    x = g.node('Add', [x, out]);

    const ln2 = g.node(
      'LayerNormalization',
      [
        x,
        g.float(`${l}.1.norm.weight`, tensor(weights, `${l}.1.norm.weight`)),
        g.float(`${l}.1.norm.bias`, tensor(weights, `${l}.1.norm.bias`)),
      ],
      { axis: -1, epsilon: { float: 1e-5 } },
    );
    const h1 = g.node('Add', [
      g.node('MatMul', [
        ln2,
        g.float(`${l}.1.fn.net.0.weight`, transpose2d(tensor(weights, `${l}.1.fn.net.0.weight`))),
      ]),
      g.float(`${l}.1.fn.net.0.bias`, tensor(weights, `${l}.1.fn.net.0.bias`)),
    ]);
    const gelu = exactGelu(g, h1);
    const h2 = g.node('Add', [
      g.node('MatMul', [
        gelu,
        g.float(`${l}.1.fn.net.3.weight`, transpose2d(tensor(weights, `${l}.1.fn.net.3.weight`))),
      ]),
      g.float(`${l}.1.fn.net.3.bias`, tensor(weights, `${l}.1.fn.net.3.bias`)),
    ]);
    x = g.node('Add', [x, h2]);
  }
  // The regression token's output is the branch's result; a 0-d index drops the time axis.
  g.output(g.node('Gather', [x, g.int64Scalar('tok_idx', 0)], { axis: 1 }), 'token', 'float', [
    'batch',
    a.hidden,
  ]);
  return g.encode();
}

/** A [rows, cols] matrix's first `left` columns and the rest, as two matrices. */
function splitColumns(t: Float32Tensor, left: number): [Float32Tensor, Float32Tensor] {
  const [rows, cols] = t.shape as [number, number];
  const a = new Float32Array(rows * left);
  const b = new Float32Array(rows * (cols - left));
  for (let r = 0; r < rows; r++) {
    a.set(t.data.subarray(r * cols, r * cols + left), r * left);
    b.set(t.data.subarray(r * cols + left, (r + 1) * cols), r * (cols - left));
  }
  return [
    { shape: [rows, left], data: a },
    { shape: [rows, cols - left], data: b },
  ];
}

/** GELU(x) = 0.5 x (1 + erf(x / sqrt 2)): torch.nn.GELU's default, not the tanh approximation. */
function exactGelu(g: GraphBuilder, x: string): string {
  const erf = g.node('Erf', [g.node('Mul', [x, g.scalar('inv_sqrt2', Math.SQRT1_2)])]);
  return g.node('Mul', [g.node('Mul', [x, g.scalar('half', 0.5)]), g.node('Add', [erf, g.scalar('one', 1)])]);
}

export function buildHead(weights: ModelWeights): Uint8Array {
  const arch = weights.architecture;
  const g = new GraphBuilder('head');
  const tv = g.input('token_video', 'float', ['batch', arch.video.hidden]);
  const ta = g.input('token_audio', 'float', ['batch', arch.audio.hidden]);
  const both = g.node('Concat', [tv, ta], { axis: 1 });
  const h0 = g.node('MatMul', [
    both,
    g.float('head.0.weight', transpose2d(tensor(weights, 'head.0.weight'))),
  ]);
  const h2 = g.node('MatMul', [h0, g.float('head.2.weight', transpose2d(tensor(weights, 'head.2.weight')))]);
  g.output(g.node('Sigmoid', [h2]), 'intensities', 'float', ['batch', arch.outputs]);
  return g.encode();
}

export function buildGraph(weights: ModelWeights, id: GraphId): Uint8Array {
  if (id === 'head') return buildHead(weights);
  const [kind, branch] = id.split('.') as [GraphName, Branch];
  switch (kind) {
    case 'gru_step':
      return buildGruStep(weights, branch);
    case 'gru_seq':
      return buildGruSequence(weights, branch);
    case 'encoder':
      return buildEncoder(weights, branch);
    default:
      throw new Error(`internal: unknown graph ${id}`);
  }
}
