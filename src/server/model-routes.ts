import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MODEL_CARD_PATH, type ModelInfo, modelInfoSchema } from '../contracts/model-info.js';
import { EriError } from '../errors.js';
import { type ModelCard, modelCardSchema } from '../model/package.js';
import { errorResponses } from './openapi.js';

/** The model card's human half: the package's README, as the package ships it. */
const CARD_README = 'README.md';

/** What every client is told about the model: the same object on the stream and on signalling. */
export function modelInfo(card: ModelCard): ModelInfo {
  return {
    name: card.name,
    version: card.version,
    trained: card.trained,
    proxy: card.proxy === true,
    card: MODEL_CARD_PATH,
  };
}

/**
 * The model card, public like the API's description: it says what the numbers are (a proxy model's
 * limits above all), never anything a viewer published. `/v1/model` has what clients are told about the
 * model (the stream's hello has the same) and the whole card as JSON; `/model` is the
 * package's README (the readable card; markdown, shown as text).
 */
export function registerModelRoutes(fastify: FastifyInstance, deps: { card: ModelCard; dir: string }): void {
  const http = fastify.withTypeProvider<ZodTypeProvider>();
  http.get(
    '/v1/model',
    {
      schema: {
        tags: ['model'],
        summary: 'The model card: what the estimates are, how it was trained and measured, its limits',
        security: [],
        response: { 200: z.object({ model: modelInfoSchema, card: modelCardSchema }) },
      },
    },
    async () => ({ model: modelInfo(deps.card), card: deps.card }),
  );
  http.get(
    MODEL_CARD_PATH,
    {
      schema: {
        tags: ['model'],
        summary: "The model card to read (the package's README.md)",
        security: [],
        produces: ['text/plain; charset=utf-8'],
        response: { 200: z.string(), ...errorResponses(['ERI_ERR_NOT_FOUND']) },
      },
    },
    async (_req, reply) => {
      let text: string;
      try {
        text = await readFile(join(deps.dir, CARD_README), 'utf8');
      } catch {
        throw new EriError(
          'ERI_ERR_NOT_FOUND',
          `the model package ${deps.card.name}@${deps.card.version} has no ${CARD_README}; its card is at /v1/model`,
        );
      }
      return reply.type('text/plain; charset=utf-8').send(text);
    },
  );
}
