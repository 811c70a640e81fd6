/**
 * The ABAW5 ERI challenge metric: Pearson's r per emotion between predicted and true intensities over
 * the clips of a split, and their mean; plus the mean absolute error. A constant column has no r: it
 * counts as 0, as a constant predictor earns nothing.
 */

export interface EvaluationMetrics {
  clips: number;
  meanPearsonR: number;
  pearsonR: Record<string, number>;
  mae: number;
  maePerEmotion: Record<string, number>;
}

export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (n !== y.length) throw new RangeError(`pearson: ${n} vs ${y.length} values`);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const denom = Math.sqrt(sxx * syy);
  return denom > 0 ? sxy / denom : 0;
}

/** predicted and truth: one row of intensities per clip, in `emotions` order. */
export function evaluate(
  predicted: readonly ArrayLike<number>[],
  truth: readonly ArrayLike<number>[],
  emotions: readonly string[],
): EvaluationMetrics {
  const column = (rows: readonly ArrayLike<number>[], j: number) => rows.map((r) => r[j] as number);
  const pearsonR: Record<string, number> = {};
  const maePerEmotion: Record<string, number> = {};
  let absSum = 0;
  for (const [j, emotion] of emotions.entries()) {
    const p = column(predicted, j);
    const t = column(truth, j);
    pearsonR[emotion] = pearson(p, t);
    const abs = p.reduce((s, v, i) => s + Math.abs(v - (t[i] as number)), 0);
    maePerEmotion[emotion] = predicted.length ? abs / predicted.length : 0;
    absSum += abs;
  }
  const rs = Object.values(pearsonR);
  return {
    clips: predicted.length,
    meanPearsonR: rs.length ? rs.reduce((a, b) => a + b, 0) / rs.length : 0,
    pearsonR,
    mae: predicted.length && emotions.length ? absSum / (predicted.length * emotions.length) : 0,
    maePerEmotion,
  };
}
