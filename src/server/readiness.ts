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

/**
 * Asks the checks on each call. A probe that has not settled (a stuck pool's ping waits in its queue)
 * is not asked again: the next call waits on the same one, so a probe every few seconds against a stuck
 * dependency adds no work and no memory.
 */
export class Readiness {
  readonly #checks: () => readonly ReadinessCheck[];
  readonly #timeoutMs: number;
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(checks: () => readonly ReadinessCheck[], timeoutMs = PROBE_TIMEOUT_MS) {
    this.#checks = checks;
    this.#timeoutMs = timeoutMs;
  }

  async report(): Promise<ReadinessReport> {
    const checks = this.#checks();
    const results = await Promise.all(checks.map((c) => this.#run(c)));
    const report: ReadinessReport = { ready: results.every((r) => r.ok), checks: {} };
    checks.forEach((c, i) => {
      report.checks[c.name] = results[i] as CheckResult;
    });
    return report;
  }

  #probe(check: ReadinessCheck): Promise<void> {
    let pending = this.#inFlight.get(check.name);
    if (!pending) {
      pending = check.probe().finally(() => this.#inFlight.delete(check.name));
      this.#inFlight.set(check.name, pending);
    }
    return pending;
  }

  async #run(check: ReadinessCheck): Promise<CheckResult> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#probe(check),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#timeoutMs} ms`)),
            this.#timeoutMs,
          );
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
}
