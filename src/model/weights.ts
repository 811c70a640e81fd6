import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EriError } from '../errors.js';
import { type Float32Tensor, SafetensorsFile } from './safetensors.js';

/**
 * The reference model's weights under its PyTorch `state_dict` names, so that a checkpoint trained with
 * the reference code loads unchanged. Every size is read from the tensors; only the attention head split
 * (heads x dimHead) is not recoverable from shapes and comes from the model card.
 */

export const BRANCHES = ['video', 'audio'] as const;
export type Branch = (typeof BRANCHES)[number];

/** Where each branch's tensors live in the reference `state_dict`. */
export const BRANCH_PREFIX: Record<Branch, { rnn: string; token: string; transformer: string }> = {
  video: { rnn: 'rnn', token: 'reg_token', transformer: 'transformer' },
  audio: { rnn: 'rnn_aud', token: 'reg_token_aud', transformer: 'transformer_aud' },
};

export interface BranchArchitecture {
  /** Features per step entering the GRU. */
  inputDim: number;
  /** GRU hidden size, also the transformer width. */
  hidden: number;
  gruLayers: number;
  /** Transformer layers. */
  depth: number;
  heads: number;
  dimHead: number;
  mlpDim: number;
}

export interface ModelArchitecture {
  video: BranchArchitecture;
  audio: BranchArchitecture;
  /** Width of head.0's output. */
  headHidden: number;
  /** Number of emotions out of head.2. */
  outputs: number;
}

export interface AttentionSplit {
  heads: number;
  dimHead: number;
}

export const REFERENCE_ATTENTION: AttentionSplit = { heads: 4, dimHead: 64 };

export interface ModelWeights {
  readonly architecture: ModelArchitecture;
  readonly tensors: ReadonlyMap<string, Float32Tensor>;
  /** sha256 of the weights file's bytes: the key under which compiled graphs are cached. */
  readonly sha256: string;
  /** Tensors in the file that the model does not use (e.g. a Lightning checkpoint's extras). */
  readonly ignored: readonly string[];
}

export function gruNames(prefix: string, layer: number): string[] {
  return ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'].map((kind) => `${prefix}.${kind}_l${layer}`);
}

/** Names and shapes of every tensor a model of this architecture has, in a stable order. */
export function expectedTensors(arch: ModelArchitecture): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const branch of BRANCHES) {
    const a = arch[branch];
    const p = BRANCH_PREFIX[branch];
    for (let l = 0; l < a.gruLayers; l++) {
      const [wih, whh, bih, bhh] = gruNames(p.rnn, l) as [string, string, string, string];
      out.set(wih, [3 * a.hidden, l === 0 ? a.inputDim : a.hidden]);
      out.set(whh, [3 * a.hidden, a.hidden]);
      out.set(bih, [3 * a.hidden]);
      out.set(bhh, [3 * a.hidden]);
    }
    out.set(p.token, [1, 1, a.hidden]);
    const inner = a.heads * a.dimHead;
    for (let i = 0; i < a.depth; i++) {
      const l = `${p.transformer}.layers.${i}`;
      out.set(`${l}.0.norm.weight`, [a.hidden]);
      out.set(`${l}.0.norm.bias`, [a.hidden]);
      out.set(`${l}.0.fn.to_qkv.weight`, [3 * inner, a.hidden]);
      out.set(`${l}.0.fn.to_out.0.weight`, [a.hidden, inner]);
      out.set(`${l}.0.fn.to_out.0.bias`, [a.hidden]);
      out.set(`${l}.1.norm.weight`, [a.hidden]);
      out.set(`${l}.1.norm.bias`, [a.hidden]);
      out.set(`${l}.1.fn.net.0.weight`, [a.mlpDim, a.hidden]);
      out.set(`${l}.1.fn.net.0.bias`, [a.mlpDim]);
      out.set(`${l}.1.fn.net.3.weight`, [a.hidden, a.mlpDim]);
      out.set(`${l}.1.fn.net.3.bias`, [a.hidden]);
    }
  }
  out.set('head.0.weight', [arch.headHidden, arch.video.hidden + arch.audio.hidden]);
  out.set('head.2.weight', [arch.outputs, arch.headHidden]);
  return out;
}

function shapeOf(file: SafetensorsFile, name: string): readonly number[] {
  const info = file.info(name);
  if (!info) throw new EriError('ERI_ERR_TENSOR_MISSING', `weights ${file.source} lack the tensor '${name}'`);
  return info.shape;
}

function countWhile(test: (i: number) => boolean): number {
  let n = 0;
  while (test(n)) n++;
  return n;
}

function dim(file: SafetensorsFile, name: string, axis: number, rank: number): number {
  const shape = shapeOf(file, name);
  if (shape.length !== rank) {
    throw new EriError(
      'ERI_ERR_TENSOR_SHAPE',
      `tensor '${name}' in ${file.source} has shape ${JSON.stringify(shape)}, expected rank ${rank}`,
    );
  }
  return shape[axis] as number;
}

function inferBranch(file: SafetensorsFile, branch: Branch, attention: AttentionSplit): BranchArchitecture {
  const p = BRANCH_PREFIX[branch];
  const gruLayers = countWhile((l) => file.has(`${p.rnn}.weight_ih_l${l}`));
  if (gruLayers === 0) shapeOf(file, `${p.rnn}.weight_ih_l0`);
  const depth = countWhile((i) => file.has(`${p.transformer}.layers.${i}.0.norm.weight`));
  if (depth === 0) shapeOf(file, `${p.transformer}.layers.0.0.norm.weight`);
  const hidden = dim(file, `${p.rnn}.weight_hh_l0`, 1, 2);
  const inner = dim(file, `${p.transformer}.layers.0.0.fn.to_qkv.weight`, 0, 2) / 3;
  if (inner !== attention.heads * attention.dimHead) {
    throw new EriError(
      'ERI_ERR_MODEL_MISMATCH',
      `${branch} attention: to_qkv has ${inner} = heads x dimHead per q/k/v, but the card says ` +
        `${attention.heads} x ${attention.dimHead} = ${attention.heads * attention.dimHead}`,
    );
  }
  return {
    inputDim: dim(file, `${p.rnn}.weight_ih_l0`, 1, 2),
    hidden,
    gruLayers,
    depth,
    heads: attention.heads,
    dimHead: attention.dimHead,
    mlpDim: dim(file, `${p.transformer}.layers.0.1.fn.net.0.weight`, 0, 2),
  };
}

export type BranchAttention = Partial<Record<Branch, AttentionSplit>>;

export function inferArchitecture(file: SafetensorsFile, attention: BranchAttention = {}): ModelArchitecture {
  return {
    video: inferBranch(file, 'video', attention.video ?? REFERENCE_ATTENTION),
    audio: inferBranch(file, 'audio', attention.audio ?? REFERENCE_ATTENTION),
    headHidden: dim(file, 'head.0.weight', 0, 2),
    outputs: dim(file, 'head.2.weight', 0, 2),
  };
}

function checkFinite(name: string, tensor: Float32Tensor, source: string): void {
  for (const v of tensor.data) {
    if (!Number.isFinite(v)) {
      throw new EriError('ERI_ERR_TENSOR_VALUES', `tensor '${name}' in ${source} holds ${v}`);
    }
  }
}

/** Loads, validates and names every tensor; the architecture is inferred unless given (then it is checked). */
export async function loadWeights(
  path: string,
  options: { attention?: BranchAttention; expect?: ModelArchitecture } = {},
): Promise<ModelWeights> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new EriError('ERI_ERR_FILE_READ', `cannot read weights ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const file = SafetensorsFile.parse(bytes, path);
  const architecture = options.expect ?? inferArchitecture(file, options.attention);
  const expected = expectedTensors(architecture);
  const tensors = new Map<string, Float32Tensor>();
  for (const [name, shape] of expected) {
    const actual = shapeOf(file, name);
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new EriError(
        'ERI_ERR_TENSOR_SHAPE',
        `tensor '${name}' in ${path} has shape ${JSON.stringify(actual)}, expected ${JSON.stringify(shape)}`,
      );
    }
    const tensor = file.float32(name);
    checkFinite(name, tensor, path);
    tensors.set(name, tensor);
  }
  return {
    architecture,
    tensors,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    ignored: file.names.filter((n) => !expected.has(n)),
  };
}

/** Human-readable differences between two architectures (empty when they agree). */
/** The attention split each branch of an architecture uses, to re-infer it from weights. */
export function attentionOf(arch: ModelArchitecture): BranchAttention {
  return {
    video: { heads: arch.video.heads, dimHead: arch.video.dimHead },
    audio: { heads: arch.audio.heads, dimHead: arch.audio.dimHead },
  };
}

export function architectureDifferences(a: ModelArchitecture, b: ModelArchitecture): string[] {
  const out: string[] = [];
  for (const branch of BRANCHES) {
    for (const key of Object.keys(a[branch]) as (keyof BranchArchitecture)[]) {
      if (a[branch][key] !== b[branch][key])
        out.push(`${branch}.${key}: ${a[branch][key]} vs ${b[branch][key]}`);
    }
  }
  if (a.headHidden !== b.headHidden) out.push(`headHidden: ${a.headHidden} vs ${b.headHidden}`);
  if (a.outputs !== b.outputs) out.push(`outputs: ${a.outputs} vs ${b.outputs}`);
  return out;
}
