import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Shared pieces of every benchmark: timing, summary statistics and a description of the machine. */

export interface Summary {
  n: number;
  medianMs: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function summarize(samplesMs: readonly number[]): Summary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  // As k6's Trend computes p(x) (and numpy by default): linear between the two closest ranks, so a
  // scenario's percentiles from k6 and from `eri load run` mean the same thing.
  const at = (q: number) => {
    if (sorted.length === 0) return 0;
    const i = q * (sorted.length - 1);
    const lo = sorted[Math.floor(i)] ?? 0;
    const hi = sorted[Math.ceil(i)] ?? lo;
    return lo + (hi - lo) * (i - Math.floor(i));
  };
  return {
    n: sorted.length,
    medianMs: at(0.5),
    p95Ms: at(0.95),
    p99Ms: at(0.99),
    maxMs: sorted[sorted.length - 1] ?? 0,
  };
}

/** Runs `fn` `warmup` times untimed, then `repeats` times timed. */
export async function timeIt(
  fn: () => Promise<unknown>,
  repeats: number,
  warmup = Math.min(5, repeats),
): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}`;
}

export function fmt(ms: number): string {
  return ms < 1 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(2) : ms.toFixed(0);
}

/** A plain text table: first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r, i) => {
      const line = r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join('  ');
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}
