import type { FastifyError, FastifyInstance } from 'fastify';
import { EriError, type ErrorCode, httpStatus, isEriError } from '../errors.js';

/**
 * The one place a REST error becomes a response: every body is `{code, message}` and every status comes
 * from the code's row in src/errors.ts. Routes throw EriError; Fastify's own errors (a malformed body, a
 * body over the limit, a route that does not exist) are given the code that says the same; anything
 * else is the server's fault, answered 500 ERI_ERR_INTERNAL without its details, which go to the log.
 */

function fromFramework(error: FastifyError): EriError | undefined {
  const status = error.statusCode ?? 0;
  if (error.validation) return new EriError('ERI_ERR_INVALID_ARGUMENT', error.message);
  if (status === 413) return new EriError('ERI_ERR_PAYLOAD_TOO_LARGE', error.message);
  if (status === 429) return new EriError('ERI_ERR_LIMIT', error.message);
  if (status === 404) return new EriError('ERI_ERR_NOT_FOUND', error.message);
  if (status >= 400 && status < 500) return new EriError('ERI_ERR_INVALID_ARGUMENT', error.message);
  return undefined;
}

export function installErrorHandler(
  http: FastifyInstance,
  hooks: { onError?: (code: ErrorCode) => void },
): void {
  http.setErrorHandler((error: FastifyError, req, reply) => {
    let e = isEriError(error) ? error : fromFramework(error);
    if (!e) {
      // With the request's id, so the 500 a user reports can be found.
      req.log.error({ err: error, path: req.url.split('?')[0] }, 'internal error');
      e = new EriError('ERI_ERR_INTERNAL', 'the server failed to handle this request; its log says why');
    }
    hooks.onError?.(e.code);
    return reply.code(httpStatus(e.code)).type('application/json; charset=utf-8').send(e.toJSON());
  });
  http.setNotFoundHandler((req, reply) => {
    hooks.onError?.('ERI_ERR_NOT_FOUND');
    return reply
      .code(404)
      .send(
        new EriError(
          'ERI_ERR_NOT_FOUND',
          `no route ${req.method} ${req.url.split('?')[0]?.slice(0, 200)}`,
        ).toJSON(),
      );
  });
}
