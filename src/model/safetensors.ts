import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { EriError } from '../errors.js';
import type { Float32Tensor } from '../onnx/graph-builder.js';

export type { Float32Tensor };

/**
 * safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON
 * header naming each tensor's dtype, shape and byte range, then the raw bytes. It is what PyTorch users
 * save a `state_dict` to, so the server reads weights and feature files in it. The reader validates
 * every field before touching the data, because a model file is user input like any other.
 */

const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;

export type Dtype = keyof typeof DTYPE_BYTES;

const tensorInfoSchema = z.object({
  dtype: z.enum(Object.keys(DTYPE_BYTES) as [Dtype, ...Dtype[]]),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

export type TensorInfo = z.infer<typeof tensorInfoSchema>;

/** A float32 tensor in row-major order. */

/** Header lengths beyond this are refused before allocating: real headers are a few kB. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class SafetensorsFile {
  readonly source: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly #infos: Map<string, TensorInfo>;
  readonly #data: Buffer;

  private constructor(
    source: string,
    infos: Map<string, TensorInfo>,
    metadata: Record<string, string>,
    data: Buffer,
  ) {
    this.source = source;
    this.#infos = infos;
    this.metadata = metadata;
    this.#data = data;
  }

  static async read(path: string): Promise<SafetensorsFile> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (cause) {
      throw new EriError('ERI_ERR_FILE_READ', `cannot read ${path}: ${(cause as Error).message}`, { cause });
    }
    return SafetensorsFile.parse(bytes, path);
  }

  static parse(bytes: Buffer, source = '<buffer>'): SafetensorsFile {
    const fail = (why: string): never => {
      throw new EriError('ERI_ERR_SAFETENSORS_FORMAT', `${source} is not a valid safetensors file: ${why}`);
    };
    if (bytes.length < 8) fail(`it is ${bytes.length} bytes long, shorter than the 8-byte header length`);
    const headerLength = bytes.readBigUInt64LE(0);
    if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
      fail(
        `the header claims ${headerLength} bytes but the file has ${bytes.length - 8} after the length field`,
      );
    }
    const headerEnd = 8 + Number(headerLength);
    let header: unknown;
    try {
      header = JSON.parse(bytes.subarray(8, headerEnd).toString('utf8'));
    } catch {
      fail('its header is not JSON');
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      fail('its header is not a JSON object');
    const data = bytes.subarray(headerEnd);
    const infos = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        const parsed = z.record(z.string(), z.string()).safeParse(raw);
        if (!parsed.success) fail('__metadata__ must map strings to strings');
        metadata = parsed.data ?? {};
        continue;
      }
      const parsed = tensorInfoSchema.safeParse(raw);
      if (!parsed.success) {
        fail(
          `tensor '${name}' has an invalid header entry (${parsed.error.issues[0]?.message ?? 'bad entry'})`,
        );
        continue;
      }
      const info = parsed.data;
      const [begin, end] = info.data_offsets;
      const expected = elementCount(info.shape) * DTYPE_BYTES[info.dtype];
      if (end < begin) fail(`tensor '${name}' has data_offsets [${begin}, ${end}] with end before begin`);
      if (end > data.length) {
        fail(
          `tensor '${name}' ends at byte ${end} but the data section has ${data.length} bytes (truncated file?)`,
        );
      }
      if (end - begin !== expected) {
        fail(
          `tensor '${name}' holds ${end - begin} bytes but ${info.dtype}${JSON.stringify(info.shape)} needs ${expected}`,
        );
      }
      infos.set(name, info);
    }
    return new SafetensorsFile(source, infos, metadata, data);
  }

  get names(): string[] {
    return [...this.#infos.keys()];
  }

  has(name: string): boolean {
    return this.#infos.has(name);
  }

  info(name: string): TensorInfo | undefined {
    return this.#infos.get(name);
  }

  /** The tensor as float32, copied (the file's offsets need not be 4-byte aligned). */
  float32(name: string): Float32Tensor {
    const info = this.#infos.get(name);
    if (!info) throw new EriError('ERI_ERR_TENSOR_MISSING', `${this.source} has no tensor '${name}'`);
    if (info.dtype !== 'F32') {
      throw new EriError(
        'ERI_ERR_TENSOR_DTYPE',
        `tensor '${name}' in ${this.source} is ${info.dtype}, expected F32`,
      );
    }
    const [begin, end] = info.data_offsets;
    const copy = new Uint8Array(end - begin);
    copy.set(this.#data.subarray(begin, end));
    return { shape: [...info.shape], data: new Float32Array(copy.buffer) };
  }
}

/** Serialises float32 tensors (in insertion order) with optional string metadata. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, Float32Tensor> | Record<string, Float32Tensor>,
  metadata?: Record<string, string>,
): Buffer {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, tensor] of entries) {
    if (tensor.data.length !== elementCount(tensor.shape)) {
      throw new EriError(
        'ERI_ERR_TENSOR_SHAPE',
        `tensor '${name}' has ${tensor.data.length} values but shape ${JSON.stringify(tensor.shape)}`,
      );
    }
    const bytes = tensor.data.byteLength;
    header[name] = { dtype: 'F32', shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - ((8 + Buffer.byteLength(headerText)) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const [, tensor] of entries) {
    Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength).copy(out, at);
    at += tensor.data.byteLength;
  }
  return out;
}

/** Writes atomically (temp file + rename) so a crash never leaves half a file under the final name. */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Float32Tensor> | Record<string, Float32Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, encodeSafetensors(tensors, metadata));
  await rename(tmp, path);
}
