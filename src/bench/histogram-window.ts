import type { Counter, Histogram, Registry } from 'prom-client';

/**
 * A server histogram (or counter) between two moments of a bench run: what the server observed in that
 * window alone (a steady state, without the start-up before it), read the way an operator reads it from
 * Prometheus (`histogram_quantile` over the increase of its buckets).
 */

/** Cumulative counts by upper bound (seconds), ascending, the last one +Inf. */
export type Buckets = readonly { le: number; count: number }[];

export async function readBuckets(registry: Registry, name: string): Promise<Buckets> {
  const metric = registry.getSingleMetric(name) as Histogram | undefined;
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => v.metricName === `${name}_bucket`)
    .map((v) => ({
      le: v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le),
      count: v.value,
    }))
    .sort((a, b) => a.le - b.le);
}

/** A counter's value now (summed over its labels). */
export async function readCounter(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name) as Counter | undefined;
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.reduce((a, v) => a + v.value, 0);
}

/** The observations made after `earlier` up to `later` (two reads of the same histogram). */
export function bucketsBetween(earlier: Buckets, later: Buckets): Buckets {
  return later.map((b, i) => ({ le: b.le, count: b.count - (earlier[i]?.count ?? 0) }));
}

export function bucketTotal(b: Buckets): number {
  return b.at(-1)?.count ?? 0;
}

/** Fraction of the observations at or under `le`, which must be one of the bounds (exact, no interpolation). */
export function fractionWithin(b: Buckets, le: number): number {
  const bucket = b.find((x) => x.le === le);
  if (!bucket) throw new Error(`${le} is not a bucket bound`);
  const total = bucketTotal(b);
  return total ? bucket.count / total : Number.NaN;
}

/** As Prometheus's histogram_quantile: linear within the bucket the rank falls in (seconds). */
export function bucketQuantile(b: Buckets, q: number): number {
  const total = bucketTotal(b);
  if (!total) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of b) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lower;
      return lower + (le - lower) * ((rank - below) / Math.max(1e-12, count - below));
    }
    lower = le;
    below = count;
  }
  return lower;
}
