import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { EriError } from '../../errors.js';

/**
 * A TensorFlow.js graph model as it ships in npm packages: `model.json` (the GraphDef as JSON, attribute
 * values base64-encoded, and a weights manifest) plus binary shards holding the constants back to back,
 * in manifest order. Read and validated here, constants dequantized to float32, so the converter sees
 * plain tensors. A model file is input like any other: every size is checked before it is used.
 */

const attrValueSchema = z
  .object({
    s: z.string().optional(),
    i: z.union([z.string(), z.number()]).optional(),
    f: z.number().optional(),
    b: z.boolean().optional(),
    type: z.string().optional(),
    list: z
      .object({
        s: z.array(z.string()).optional(),
        i: z.array(z.union([z.string(), z.number()])).optional(),
        f: z.array(z.number()).optional(),
      })
      .passthrough()
      .optional(),
    shape: z
      .object({ dim: z.array(z.object({ size: z.union([z.string(), z.number()]) })).optional() })
      .passthrough()
      .optional(),
    tensor: z.unknown().optional(),
  })
  .passthrough();

const nodeSchema = z.object({
  name: z.string().min(1),
  op: z.string().min(1),
  input: z.array(z.string()).optional(),
  attr: z.record(z.string(), attrValueSchema).optional(),
});

const quantizationSchema = z.object({
  dtype: z.string(),
  original_dtype: z.string().optional(),
  scale: z.number().optional(),
  min: z.number().optional(),
});

const weightSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.enum(['float32', 'int32']),
  quantization: quantizationSchema.optional(),
});

const manifestSchema = z
  .array(z.object({ paths: z.array(z.string().min(1)).min(1), weights: z.array(weightSchema) }))
  .min(1);

export const graphModelJsonSchema = z.object({
  format: z.literal('graph-model'),
  modelTopology: z.object({ node: z.array(nodeSchema).min(1) }).passthrough(),
  weightsManifest: manifestSchema,
});

export type GraphNode = z.infer<typeof nodeSchema>;
export type AttrValue = z.infer<typeof attrValueSchema>;

/** A constant of the graph, widened to float32 (float weights) or int32 (shapes, axes, paddings). */
export type Constant =
  | { dtype: 'float32'; shape: number[]; data: Float32Array }
  | { dtype: 'int32'; shape: number[]; data: Int32Array };

export interface GraphModel {
  /** The model's file name without `.json`, used in messages. */
  name: string;
  nodes: GraphNode[];
  constants: Map<string, Constant>;
  /** sha256 over model.json and every shard, in order: the key of anything derived from this model. */
  sha256: string;
}

/** IEEE 754 half precision to single, value by value (Node 20 has no Float16Array). */
export function widenFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i] as number;
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) out[i] = sign * 2 ** -14 * (mantissa / 1024);
    else if (exponent === 0x1f) out[i] = mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else out[i] = sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
  }
  return out;
}

const elementCount = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function fail(model: string, message: string): never {
  throw new EriError('ERI_ERR_FEATURES', `${model}: ${message}`);
}

/** Slices the concatenated shards into constants, dequantizing as the manifest says. */
function readConstants(
  model: string,
  manifest: z.infer<typeof weightSchema>[],
  bytes: Uint8Array,
): Map<string, Constant> {
  const constants = new Map<string, Constant>();
  let at = 0;
  for (const w of manifest) {
    const n = elementCount(w.shape);
    const q = w.quantization?.dtype;
    const width = q === 'float16' || q === 'uint16' ? 2 : q === 'uint8' ? 1 : 4;
    if (q !== undefined && !['float16', 'uint8', 'uint16'].includes(q)) {
      fail(model, `weight '${w.name}' uses quantization '${q}', which the converter does not read`);
    }
    const size = n * width;
    if (at + size > bytes.length) fail(model, `the weight shards end inside '${w.name}'`);
    // Copied out: shard offsets are not aligned to the element size.
    const raw = bytes.slice(at, at + size);
    at += size;
    if (w.dtype === 'int32') {
      if (q) fail(model, `int32 weight '${w.name}' is quantized, which the converter does not read`);
      constants.set(w.name, { dtype: 'int32', shape: w.shape, data: new Int32Array(raw.buffer) });
      continue;
    }
    let data: Float32Array;
    if (q === 'float16') data = widenFloat16(new Uint16Array(raw.buffer));
    else if (q === 'uint8' || q === 'uint16') {
      const scale = w.quantization?.scale;
      const min = w.quantization?.min;
      if (scale === undefined || min === undefined) fail(model, `'${w.name}' lacks its scale or min`);
      const ints = q === 'uint8' ? raw : new Uint16Array(raw.buffer);
      data = Float32Array.from(ints, (v) => v * scale + min);
    } else data = new Float32Array(raw.buffer);
    constants.set(w.name, { dtype: 'float32', shape: w.shape, data });
  }
  if (at !== bytes.length) fail(model, `the weight shards hold ${bytes.length - at} bytes no weight claims`);
  return constants;
}

async function readJson(jsonPath: string, what: string): Promise<{ text: Buffer; value: unknown }> {
  let text: Buffer;
  try {
    text = await readFile(jsonPath);
  } catch (cause) {
    throw new EriError('ERI_ERR_FEATURES', `cannot read the ${what} ${jsonPath}`, { cause });
  }
  try {
    return { text, value: JSON.parse(text.toString('utf8')) };
  } catch (cause) {
    throw new EriError('ERI_ERR_FEATURES', `the ${what} ${jsonPath} is not JSON`, { cause });
  }
}

/** The constants of a weights manifest's groups, from their shards (paths relative to `jsonPath`). */
async function readManifest(
  name: string,
  jsonPath: string,
  text: Buffer,
  groups: z.infer<typeof manifestSchema>,
): Promise<{ constants: Map<string, Constant>; sha256: string }> {
  const hash = createHash('sha256').update(text);
  const shards: Buffer[] = [];
  const manifest: z.infer<typeof weightSchema>[] = [];
  for (const group of groups) {
    for (const path of group.paths) {
      if (path.includes('..') || path.startsWith('/'))
        fail(name, `shard path '${path}' leaves the model folder`);
      const shard = await readFile(join(dirname(jsonPath), path));
      hash.update(shard);
      shards.push(shard);
    }
    manifest.push(...group.weights);
  }
  return {
    constants: readConstants(name, manifest, new Uint8Array(Buffer.concat(shards))),
    sha256: hash.digest('hex'),
  };
}

/** Reads `model.json` and its shards (paths relative to the JSON file). */
export async function readGraphModel(jsonPath: string): Promise<GraphModel> {
  const name = basename(jsonPath).replace(/\.json$/, '');
  const { text, value } = await readJson(jsonPath, 'graph model');
  const parsed = graphModelJsonSchema.safeParse(value);
  if (!parsed.success) fail(name, `not a TensorFlow.js graph model: ${parsed.error.issues[0]?.message}`);
  const { constants, sha256 } = await readManifest(name, jsonPath, text, parsed.data.weightsManifest);
  return { name, nodes: parsed.data.modelTopology.node, constants, sha256 };
}

/**
 * The weights of a network whose architecture is code, not a graph (face-api's nets): a bare weights
 * manifest (`<name>-weights_manifest.json`, the groups of a model.json's `weightsManifest`) and its
 * shards, dequantized as the manifest says.
 */
export interface WeightsModel {
  name: string;
  constants: Map<string, Constant>;
  sha256: string;
}

export async function readWeightsManifest(jsonPath: string): Promise<WeightsModel> {
  const name = basename(jsonPath).replace(/-weights_manifest\.json$|\.json$/, '');
  const { text, value } = await readJson(jsonPath, 'weights manifest');
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) fail(name, `not a TensorFlow.js weights manifest: ${parsed.error.issues[0]?.message}`);
  return { name, ...(await readManifest(name, jsonPath, text, parsed.data)) };
}

/** Decodes the attribute forms the converter reads. */
export const attrs = {
  string(node: GraphNode, key: string): string | undefined {
    const s = node.attr?.[key]?.s;
    return s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8');
  },
  strings(node: GraphNode, key: string): string[] {
    return (node.attr?.[key]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
  },
  ints(node: GraphNode, key: string): number[] {
    return (node.attr?.[key]?.list?.i ?? []).map(Number);
  },
  bool(node: GraphNode, key: string): boolean | undefined {
    return node.attr?.[key]?.b;
  },
  /** The placeholder's shape, -1 for an unknown dimension. */
  shape(node: GraphNode, key = 'shape'): number[] | undefined {
    return node.attr?.[key]?.shape?.dim?.map((d) => Number(d.size));
  },
};
