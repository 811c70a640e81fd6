import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBus } from '../bus/local-bus.js';
import { EMOTIONS } from '../contracts/emotions.js';
import { type Estimate, namedIntensities } from '../contracts/estimate.js';
import type { HistoryStore } from '../history/history-store.js';
import { MemoryHistory } from '../history/memory-history.js';
import { SqliteHistory } from '../history/sqlite-history.js';
import { describeMachine, machineInfo, table } from './harness.js';

/**
 * `eri bench history`: the cost of keeping history on the embedded store. `sessions` live sessions,
 * each making one estimate per `strideSeconds`, write `hours` of history through the bus (as the
 * server does: stored, then delivered), into SQLite and into memory, side by side in one run. Reported:
 * CPU per estimate, the write rate it could sustain, the extra CPU at the live rate as a share of one
 * core, and the bytes on disk per session-hour.
 */

export interface HistoryBenchRun {
  store: 'sqlite' | 'memory';
  estimates: number;
  cpuMicrosPerEstimate: number;
  /** Estimates per second one core could store at that cost. */
  maxEstimatesPerSecond: number;
  /** CPU the live rate costs, in % of one core. */
  liveCpuPercentOfCore: number;
  /** SQLite: bytes of the database per session-hour (after a checkpoint). */
  bytesPerSessionHour?: number;
}

function estimate(sessionId: string, seq: number, strideSeconds: number): Estimate {
  // Realistic numbers: seven full-precision intensities, as the model emits them.
  const values = EMOTIONS.map(() => Math.random());
  return {
    v: 1,
    sessionId,
    roomId: 'bench',
    seq,
    windowStart: Math.max(0, seq * strideSeconds - 10),
    windowEnd: seq * strideSeconds,
    wallTime: new Date().toISOString(),
    intensities: namedIntensities(values),
    values,
    coverage: { face: Math.random(), speech: Math.random() },
    modalities: ['video', 'audio'],
    final: false,
    model: 'eri-starter@0.3.0',
    latencyMs: Math.random() * 20,
    steps: 100,
  };
}

async function measure(
  store: HistoryStore,
  o: { sessions: number; estimatesPerSession: number; strideSeconds: number },
): Promise<{ cpuMicros: number; estimates: number }> {
  const bus = new LocalBus(store);
  const ids = Array.from({ length: o.sessions }, (_, i) => `bench-${i}`);
  for (const id of ids)
    bus.publish({ kind: 'session.started', sessionId: id, roomId: 'bench', at: new Date().toISOString() });
  // Estimates are made before the clock starts: what is timed is storing them.
  const batch = 1000;
  let cpuMicros = 0;
  let estimates = 0;
  for (let seq = 0; seq < o.estimatesPerSession; seq += Math.ceil(batch / o.sessions)) {
    const made: Estimate[] = [];
    for (let s = seq; s < Math.min(o.estimatesPerSession, seq + Math.ceil(batch / o.sessions)); s++)
      for (const id of ids) made.push(estimate(id, s, o.strideSeconds));
    const t0 = process.cpuUsage();
    for (const e of made)
      bus.publish({ kind: 'estimate', sessionId: e.sessionId, roomId: 'bench', estimate: e });
    const dt = process.cpuUsage(t0);
    cpuMicros += dt.user + dt.system;
    estimates += made.length;
  }
  return { cpuMicros, estimates };
}

export async function runHistoryBench(o: { sessions?: number; hours?: number; strideSeconds?: number } = {}) {
  const sessions = o.sessions ?? 16;
  const hours = o.hours ?? 1;
  const strideSeconds = o.strideSeconds ?? 1;
  const estimatesPerSession = Math.round((hours * 3600) / strideSeconds);
  const liveRate = sessions / strideSeconds;
  const dir = await mkdtemp(join(tmpdir(), 'eri-history-bench-'));
  const runs: HistoryBenchRun[] = [];
  try {
    for (const kind of ['sqlite', 'memory'] as const) {
      const sqlite = kind === 'sqlite' ? SqliteHistory.open(join(dir, 'history.sqlite')) : undefined;
      const store =
        sqlite ?? new MemoryHistory({ maxEstimatesPerSession: estimatesPerSession, maxSessions: sessions });
      const { cpuMicros, estimates } = await measure(store, { sessions, estimatesPerSession, strideSeconds });
      const perEstimate = cpuMicros / estimates;
      let bytesPerSessionHour: number | undefined;
      if (sqlite) {
        await sqlite.close();
        const reopened = SqliteHistory.open(join(dir, 'history.sqlite'));
        bytesPerSessionHour = Math.round(reopened.databaseBytes() / (sessions * hours));
        await reopened.close();
      }
      runs.push({
        store: kind,
        estimates,
        cpuMicrosPerEstimate: Number(perEstimate.toFixed(2)),
        maxEstimatesPerSecond: Math.round(1e6 / perEstimate),
        liveCpuPercentOfCore: Number(((perEstimate * liveRate) / 1e4).toFixed(3)),
        ...(bytesPerSessionHour !== undefined ? { bytesPerSessionHour } : {}),
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { machine: machineInfo(), sessions, hours, strideSeconds, liveEstimatesPerSecond: liveRate, runs };
}

export function formatHistoryBench(r: Awaited<ReturnType<typeof runHistoryBench>>): string {
  const rows = [
    [
      'store',
      'estimates',
      'CPU µs / estimate',
      'max estimates/s',
      `CPU at ${r.liveEstimatesPerSecond}/s live`,
      'disk / session-hour',
    ],
    ...r.runs.map((x) => [
      x.store,
      String(x.estimates),
      x.cpuMicrosPerEstimate.toFixed(1),
      String(x.maxEstimatesPerSecond),
      `${x.liveCpuPercentOfCore.toFixed(2)} % of a core`,
      x.bytesPerSessionHour !== undefined ? `${(x.bytesPerSessionHour / 1024 ** 2).toFixed(2)} MiB` : '-',
    ]),
  ];
  return [
    describeMachine(r.machine),
    `${r.sessions} live sessions, one estimate each per ${r.strideSeconds} s, ${r.hours} h of history written through the bus`,
    table(rows),
  ].join('\n');
}
