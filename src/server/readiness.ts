/**
 * `/readyz`: whether this node can take a new viewer now. Each dependency is asked, at the same time and
 * each within a deadline: a pool whose workers are stuck or gone, a media worker that does not answer, or
 * a Redis that is unreachable makes the node not ready (503) until it answers again. `/healthz` asks
 * none of them: it says the process serves HTTP, so a restart is only ever for a process that cannot.
 */

export interface ReadinessCheck {
  name: string;
  /** Resolves when usable; rejects (or does not settle in time) when not. */
  probe: () => Promise<void>;
}

export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

/** A probe's deadline: generous (a busy feature pool answers its ping after the frames queued before it). */
export const PROBE_TIMEOUT_MS = 2000;

async function run(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      ok: false,
      ms: Math.round(performance.now() - started),
      error: ((error as Error).message ?? String(error)).slice(0, 200),
    };
  } finally {
    clearTimeout(timer);
  }
}

export async function checkReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map((c) => run(c, timeoutMs)));
  const report: ReadinessReport = { ready: results.every((r) => r.ok), checks: {} };
  checks.forEach((c, i) => {
    report.checks[c.name] = results[i] as CheckResult;
  });
  return report;
}
