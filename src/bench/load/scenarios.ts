import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { EriError } from '../../errors.js';

/**
 * load-tests/scenarios.json: the parameters and thresholds of every load scenario, shared by the k6
 * scripts and by `eri load`, so CI (small scale, this harness) and users with k6 (full scale) measure
 * the same thing against the same limits.
 */

export const SCENARIOS_FILE = fileURLToPath(
  new URL('../../../../load-tests/scenarios.json', import.meta.url),
);

const scaled = <T extends z.ZodType>(shape: T) => z.object({ small: shape, full: shape });

export const scenariosSchema = z.object({
  room: z.string(),
  subscribers: scaled(
    z.object({
      connections: z.number().int().positive(),
      rampSeconds: z.number().nonnegative(),
      holdSeconds: z.number().positive(),
      publishers: z.number().int().positive(),
    }),
  ).extend({
    thresholds: z.object({
      deliveryP99Ms: z.number(),
      subscribeFailRate: z.number(),
      minEstimatesPerSubscriber: z.number(),
    }),
  }),
  publishers: scaled(
    z.object({ publishers: z.number().int().positive(), seconds: z.number().positive() }),
  ).extend({
    thresholds: z.object({
      captureToEstimateP95Ms: z.number(),
      errors: z.number(),
      minEstimatesPerPublisherPerMinute: z.number(),
    }),
  }),
  edgePublishers: scaled(
    z.object({ publishers: z.number().int().positive(), seconds: z.number().positive() }),
  ).extend({
    thresholds: z.object({
      stepToEstimateP95Ms: z.number(),
      errors: z.number(),
      minEstimatesPerPublisherPerMinute: z.number(),
    }),
  }),
  signalling: scaled(
    z.object({ vus: z.number().int().positive(), iterations: z.number().int().positive() }),
  ).extend({
    thresholds: z.object({ joinP95Ms: z.number(), failRate: z.number() }),
  }),
  history: scaled(z.object({ vus: z.number().int().positive(), seconds: z.number().positive() })).extend({
    thresholds: z.object({ requestP95Ms: z.number(), failRate: z.number() }),
  }),
});

export type Scenarios = z.infer<typeof scenariosSchema>;
export type Scale = 'small' | 'full';
export const SCENARIO_NAMES = [
  'subscribers',
  'publishers',
  'edge-publishers',
  'signalling',
  'history',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export async function loadScenarios(path = SCENARIOS_FILE): Promise<Scenarios> {
  try {
    return scenariosSchema.parse(JSON.parse(await readFile(path, 'utf8')));
  } catch (cause) {
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `${path}: ${(cause as Error).message}`, { cause });
  }
}

/** One threshold, checked as k6 checks it. */
export interface ThresholdResult {
  metric: string;
  rule: string;
  actual: number;
  pass: boolean;
}

export function threshold(
  metric: string,
  op: '<' | '<=' | '>=',
  limit: number,
  actual: number,
): ThresholdResult {
  const pass = op === '<' ? actual < limit : op === '<=' ? actual <= limit : actual >= limit;
  return { metric, rule: `${op}${limit}`, actual, pass };
}
