import type { FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { ErrorCode } from '../errors.js';
import { installErrorHandler } from './error-handler.js';

/**
 * What every Fastify instance that carries these routes needs, the server's and a test's alike:
 * queries, params and bodies validated and answers serialised by the routes' zod schemas, and the one
 * error handler.
 */
export function applyHttpConventions(
  http: FastifyInstance,
  hooks: { onError?: (code: ErrorCode) => void } = {},
): void {
  http.setValidatorCompiler(validatorCompiler);
  http.setSerializerCompiler(serializerCompiler);
  installErrorHandler(http, hooks);
}
