import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { LocalBus } from '../bus/local-bus.js';
import { EMOTIONS } from '../contracts/emotions.js';
import { namedIntensities } from '../contracts/estimate.js';
import { MemoryHistory } from '../history/memory-history.js';
import { SubscriberConnection } from '../server/stream.js';
import { describeMachine, machineInfo } from './harness.js';

/**
 * `eri bench fanout`: one server process (this one) fans estimates out to N subscribers on /v1/stream,
 * held by a second process on the same machine. Estimates are published at a fixed rate to all
 * subscribers (subscribe to everything); reported: delivered messages per second, p50/p99 delivery
 * latency, the server's CPU and memory.
 */

export interface FanoutRun {
  subscribers: number;
  publishedPerSecond: number;
  deliveredPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuPercent: number;
  /** The subscribers' process (same machine): when it is saturated, latency is partly its own. */
  clientCpuPercent: number;
  serverRssMiB: number;
}

export async function runFanoutBench(
  o: { subscribers?: number[]; seconds?: number; estimatesPerSecond?: number } = {},
) {
  const runs: FanoutRun[] = [];
  const seconds = o.seconds ?? 10;
  const rate = o.estimatesPerSecond ?? 2;
  for (const n of o.subscribers ?? [1000, 5000, 10000]) {
    const bus = new LocalBus(new MemoryHistory({ maxEstimatesPerSession: 100 }));
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (ws) => {
      new SubscriberConnection(ws, {
        bus,
        model: { name: 'bench', version: '0', trained: false, proxy: false, card: '/model' },
        heartbeatMs: 60_000,
        maxMessageBytes: 65536,
        highWaterBytes: 1 << 20,
        slowGraceMs: 10_000,
      });
    });
    const url = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./fanout-client.js', import.meta.url)), url, String(n), String(seconds)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines: string[] = [];
    let ready: () => void = () => {};
    const readyP = new Promise<void>((r) => {
      ready = r;
    });
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      for (const line of t.split('\n').filter(Boolean)) {
        lines.push(line);
        if (line.includes('"ready"')) ready();
      }
    });
    await readyP;
    let seq = 0;
    const values = EMOTIONS.map((_, i) => i / 10);
    const timer = setInterval(() => {
      bus.publish({
        kind: 'estimate',
        sessionId: `s${seq % 10}`,
        roomId: 'bench',
        estimate: {
          v: 1,
          sessionId: `s${seq % 10}`,
          roomId: 'bench',
          seq: seq++,
          windowStart: 0,
          windowEnd: 1,
          wallTime: new Date().toISOString(),
          intensities: namedIntensities(values),
          values,
          coverage: { face: 1, speech: 0 },
          modalities: ['video', 'audio'],
          final: false,
          model: 'bench@0',
          latencyMs: 1,
          steps: 10,
        },
      });
    }, 1000 / rate);
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    await new Promise((r) => child.once('close', r));
    const cpu = process.cpuUsage(cpu0);
    clearInterval(timer);
    const result = JSON.parse(lines.at(-1) ?? '{}') as {
      perSecond: number;
      p50: number;
      p99: number;
      cpuPercent: number;
    };
    runs.push({
      subscribers: n,
      publishedPerSecond: rate,
      deliveredPerSecond: result.perSecond,
      p50Ms: result.p50,
      p99Ms: result.p99,
      serverCpuPercent: (100 * (cpu.user + cpu.system)) / 1000 / (performance.now() - wall0),
      clientCpuPercent: result.cpuPercent,
      serverRssMiB: process.memoryUsage().rss / 2 ** 20,
    });
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
    await bus.close();
  }
  return { machine: machineInfo(), seconds, runs };
}

export function formatFanoutBench(r: Awaited<ReturnType<typeof runFanoutBench>>): string {
  return [
    `machine: ${describeMachine(r.machine)}; subscribers held by a second process on the same machine; ${r.seconds} s per run`,
    '',
    'subscribers  estimates/s published  delivered msgs/s  p50 ms  p99 ms  server CPU %  client CPU %  server RSS MiB',
    ...r.runs.map(
      (x) =>
        `${String(x.subscribers).padStart(11)}  ${String(x.publishedPerSecond).padStart(21)}  ${x.deliveredPerSecond.toFixed(0).padStart(16)}  ${x.p50Ms.toFixed(0).padStart(6)}  ${x.p99Ms.toFixed(0).padStart(6)}  ${x.serverCpuPercent.toFixed(0).padStart(12)}  ${x.clientCpuPercent.toFixed(0).padStart(12)}  ${x.serverRssMiB.toFixed(0).padStart(14)}`,
    ),
  ].join('\n');
}
