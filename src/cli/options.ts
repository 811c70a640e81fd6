import { InvalidArgumentError } from 'commander';
import type { EdgeTransportKind } from '../bench/edge-transport-protocol.js';
import type { FaceBackendKind } from '../features/face/face-vector.js';

/** commander argument parsers that reject bad values with a message naming the option's expectation. */

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'`);
  return n;
}

/** The non-empty, trimmed items of a comma-separated value. */
function commaList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A comma-separated list of names, at least one (what they name is checked where they are used). */
export function nameList(value: string): string[] {
  const parts = commaList(value);
  if (parts.length === 0) throw new InvalidArgumentError(`expected names like a,b, got '${value}'`);
  return parts;
}

export function modalityList(value: string): ('video' | 'audio')[] {
  const parts = commaList(value);
  for (const p of parts) {
    if (p !== 'video' && p !== 'audio')
      throw new InvalidArgumentError(`expected video and/or audio, got '${p}'`);
  }
  return parts as ('video' | 'audio')[];
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n))
    throw new InvalidArgumentError(`expected a positive number, got '${value}'`);
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!(n >= 0) || !Number.isFinite(n))
    throw new InvalidArgumentError(`expected a non-negative number, got '${value}'`);
  return n;
}

export function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError(`expected a number in [0, 1), got '${value}'`);
  return n;
}

/** Transports for `eri bench edge-transport`, in the order given: websocket and/or datachannel. */
export function edgeTransportList(value: string): EdgeTransportKind[] {
  const parts = commaList(value);
  if (parts.length === 0)
    throw new InvalidArgumentError(`expected websocket and/or datachannel, got '${value}'`);
  for (const p of parts) {
    if (p !== 'websocket' && p !== 'datachannel')
      throw new InvalidArgumentError(`expected websocket and/or datachannel, got '${p}'`);
  }
  return parts as EdgeTransportKind[];
}

/** A comma-separated list of positive integers, e.g. `1,2,4,8`. */
export function positiveIntList(value: string): number[] {
  const parts = commaList(value);
  if (parts.length === 0)
    throw new InvalidArgumentError(`expected positive integers like 1,2,4, got '${value}'`);
  return parts.map(positiveInt);
}

/** One face backend: onnx or tfjs. */
export function faceBackend(value: string): FaceBackendKind {
  if (value !== 'onnx' && value !== 'tfjs') {
    throw new InvalidArgumentError(`expected a face backend, onnx or tfjs, got '${value}'`);
  }
  return value;
}

/** A comma-separated list of face backends (onnx, tfjs). */
export function faceBackendList(value: string): FaceBackendKind[] {
  const parts = commaList(value);
  const bad = parts.find((p) => p !== 'onnx' && p !== 'tfjs');
  if (bad !== undefined || parts.length === 0) {
    throw new InvalidArgumentError(`expected face backends like onnx,tfjs, got '${value}'`);
  }
  return parts as FaceBackendKind[];
}
