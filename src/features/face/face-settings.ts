import { z } from 'zod';
import { EriError } from '../../errors.js';
import { envFlagSchema } from '../../util/env-flag.js';
import type { FaceAnalyzerOptions } from './face-vector.js';

/**
 * The face stage's settings as they come from the environment, for every program that extracts
 * features (the server, `eri analyze`, `eri extract`), so offline and live features are made alike.
 * The server's config reads the same variables with these schemas.
 */

export const faceBackendSchema = z.enum(['onnx', 'tfjs']);
/** onnxruntime execution providers, comma-separated in order of preference (`cuda,cpu`). */
export const faceProvidersSchema = z
  .string()
  .regex(/^[a-z]+(,[a-z]+)*$/, 'a comma-separated list of onnxruntime execution providers, e.g. cuda,cpu')
  .transform((s) => s.split(','));

export const FACE_ENV = {
  backend: 'ERI_FACE_BACKEND',
  providers: 'ERI_FACE_PROVIDERS',
  iris: 'ERI_FACE_IRIS',
} as const;

export function faceOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): FaceAnalyzerOptions {
  const backend = faceBackendSchema.safeParse(env[FACE_ENV.backend] || 'onnx');
  if (!backend.success) {
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `invalid setting ${FACE_ENV.backend}: use onnx or tfjs`);
  }
  const raw = env[FACE_ENV.providers];
  const providers = raw ? faceProvidersSchema.safeParse(raw) : undefined;
  if (providers && !providers.success) {
    throw new EriError(
      'ERI_ERR_INVALID_ARGUMENT',
      `invalid setting ${FACE_ENV.providers}: ${providers.error.issues[0]?.message}`,
    );
  }
  const iris = envFlagSchema.safeParse(env[FACE_ENV.iris] || '1');
  if (!iris.success)
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `invalid setting ${FACE_ENV.iris}: use 1 or 0`);
  return {
    backend: backend.data,
    iris: iris.data,
    ...(providers?.data ? { executionProviders: providers.data } : {}),
  };
}
