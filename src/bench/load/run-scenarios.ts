import WebSocket from 'ws';
import { ingestMessage } from '../../contracts/ingest-protocol.js';
import { type Summary, summarize } from '../harness.js';
import type { PreparedMedia } from './media.js';
import {
  type Scale,
  type ScenarioName,
  type Scenarios,
  type ThresholdResult,
  threshold,
} from './scenarios.js';

/**
 * The k6 scenarios of load-tests/, run by Node with `ws` and `fetch`: the same steps, parameters and
 * thresholds (scenarios.json), so CI exercises them at the small scale where k6 is not installed.
 */

export interface LoadReport {
  scenario: ScenarioName;
  scale: Scale;
  url: string;
  metrics: Record<string, number | Summary>;
  thresholds: ThresholdResult[];
  passed: boolean;
}

const wsBase = (url: string) => url.replace(/^http/, 'ws').replace(/\/$/, '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PublishSink {
  captureToEstimateMs: number[];
  estimates: number;
  errors: string[];
}

/** What one ingest session sends: its start, then each step's messages at the step rate. */
interface IngestPlan {
  start: Record<string, unknown>;
  steps: number;
  rateHz: number;
  send(ws: WebSocket, step: number): void;
}

/**
 * One session over the frame ingest: the start, a step every 1/rate s, the end; each running estimate
 * timed from when the step its window ends on was sent.
 */
function ingestSession(url: string, plan: IngestPlan, seconds: number, sink: PublishSink): Promise<void> {
  const sentAt: number[] = [];
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsBase(url)}/v1/ingest`);
    let timer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => ws.close(), (seconds + 15) * 1000);
    ws.on('open', () => {
      ws.send(JSON.stringify(plan.start));
      let step = 0;
      timer = setInterval(() => {
        if (step >= plan.steps) return;
        sentAt[step] = performance.now();
        plan.send(ws, step);
        step++;
        if (step === plan.steps) ws.send(JSON.stringify({ type: 'end' }));
      }, 1000 / plan.rateHz);
    });
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'estimate' && !m.data.final) {
        sink.estimates++;
        const sent = sentAt[Math.round(m.data.windowEnd * plan.rateHz) - 1];
        if (sent !== undefined) sink.captureToEstimateMs.push(performance.now() - sent);
      } else if (m.type === 'error') sink.errors.push(`${m.code}: ${m.message}`);
      else if (m.type === 'session.ended') ws.close();
    });
    ws.on('error', (e) => sink.errors.push(`socket: ${e.message}`));
    ws.on('close', () => {
      clearInterval(timer);
      clearTimeout(deadline);
      resolve();
    });
  });
}

/** One publisher session over the frame ingest, looping the prepared clip (load-tests/lib/ingest.ts). */
export function publishSession(
  url: string,
  room: string,
  sessionId: string,
  seconds: number,
  media: PreparedMedia,
  sink: PublishSink,
): Promise<void> {
  const chunk = Math.round(media.sampleRate / media.rateHz) * 2;
  const plan: IngestPlan = {
    start: { type: 'start', roomId: room, sessionId },
    steps: Math.round(seconds * media.rateHz),
    rateHz: media.rateHz,
    send: (ws, step) => {
      const t = step / media.rateHz;
      const i = step % media.frames.length;
      const offset = (i * chunk) % Math.max(chunk, media.audio.length - chunk);
      ws.send(ingestMessage(1, t, media.frames[i] as Buffer));
      ws.send(ingestMessage(2, t, media.audio.subarray(offset, offset + chunk)));
    },
  };
  return ingestSession(url, plan, seconds, sink);
}

const newSink = (): PublishSink => ({ captureToEstimateMs: [], estimates: 0, errors: [] });

/**
 * One edge publisher session (load-tests/lib/ingest.ts, publishEdge): the clip's feature steps at
 * 10 Hz, as a viewer's browser in edge mode sends them, looped.
 */
export function publishEdgeSession(
  url: string,
  room: string,
  sessionId: string,
  seconds: number,
  media: PreparedMedia,
  sink: PublishSink,
): Promise<void> {
  const { analysis, steps } = media.edge;
  const plan: IngestPlan = {
    start: { type: 'start', roomId: room, sessionId, analysis },
    steps: Math.round(seconds * analysis.rateHz),
    rateHz: analysis.rateHz,
    send: (ws, step) =>
      ws.send(ingestMessage(3, step / analysis.rateHz, steps[step % steps.length] as Buffer)),
  };
  return ingestSession(url, plan, seconds, sink);
}

async function publishers(
  url: string,
  sc: Scenarios,
  scale: Scale,
  media: PreparedMedia,
): Promise<LoadReport> {
  const p = sc.publishers[scale];
  const t = sc.publishers.thresholds;
  return runPublishers('publishers', {
    url,
    scale,
    run: p,
    limits: t,
    latency: {
      name: 'captureToEstimateMs',
      metric: 'eri_capture_to_estimate_ms',
      p95Ms: t.captureToEstimateP95Ms,
    },
    spreadMs: 0,
    session: (i, stamp, sink) =>
      publishSession(url, sc.room, `load-pub-${i}-${stamp}`, p.seconds, media, sink),
  });
}

async function edgePublishers(
  url: string,
  sc: Scenarios,
  scale: Scale,
  media: PreparedMedia,
): Promise<LoadReport> {
  const p = sc.edgePublishers[scale];
  const t = sc.edgePublishers.thresholds;
  return runPublishers('edge-publishers', {
    url,
    scale,
    run: p,
    limits: t,
    latency: { name: 'stepToEstimateMs', metric: 'eri_step_to_estimate_ms', p95Ms: t.stepToEstimateP95Ms },
    // Viewers join at independent moments: their first steps spread over a second.
    spreadMs: 1000,
    session: (i, stamp, sink) =>
      publishEdgeSession(url, sc.room, `load-edge-${i}-${stamp}`, p.seconds, media, sink),
  });
}

/**
 * A publisher scenario: its sessions, started over `spreadMs`, then its latency, estimates and errors
 * against the same three thresholds.
 */
async function runPublishers(
  scenario: ScenarioName,
  o: {
    url: string;
    scale: Scale;
    run: { publishers: number; seconds: number };
    limits: { errors: number; minEstimatesPerPublisherPerMinute: number };
    latency: { name: string; metric: string; p95Ms: number };
    spreadMs: number;
    session: (index: number, stamp: number, sink: PublishSink) => Promise<void>;
  },
): Promise<LoadReport> {
  const sink = newSink();
  const stamp = Date.now();
  const n = o.run.publishers;
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      if (o.spreadMs > 0) await sleep((i / n) * o.spreadMs);
      await o.session(i, stamp, sink);
    }),
  );
  const measured = summarize(sink.captureToEstimateMs);
  const errors = sink.errors.length;
  const minEstimates = (o.limits.minEstimatesPerPublisherPerMinute * n * o.run.seconds) / 60;
  return report(scenario, o.scale, o.url, { [o.latency.name]: measured, estimates: sink.estimates, errors }, [
    threshold(`${o.latency.metric} p(95)`, '<', o.latency.p95Ms, measured.p95Ms),
    threshold('eri_ingest_errors count', '<=', o.limits.errors, errors),
    threshold('eri_estimates count', '>=', Math.floor(minEstimates), sink.estimates),
  ]);
}

async function subscribers(
  url: string,
  sc: Scenarios,
  scale: Scale,
  media: PreparedMedia,
): Promise<LoadReport> {
  const s = sc.subscribers[scale];
  const t = sc.subscribers.thresholds;
  const total = s.rampSeconds + s.holdSeconds;
  const sink = newSink();
  const stamp = Date.now();
  const feeding = Promise.all(
    Array.from({ length: s.publishers }, (_, i) =>
      publishSession(url, sc.room, `load-fanout-${i}-${stamp}`, total + 5, media, sink),
    ),
  );
  const delivery: number[] = [];
  let failed = 0;
  let starved = 0;
  const started = Date.now();
  const connections = Array.from({ length: s.connections }, async (_, i) => {
    await sleep((i * s.rampSeconds * 1000) / s.connections);
    let count = 0;
    let subscribed = false;
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`${wsBase(url)}/v1/stream`, { perMessageDeflate: false });
      const close = setTimeout(() => ws.close(), Math.max(1000, total * 1000 - (Date.now() - started)));
      ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', id: 1, target: { roomId: sc.room } })));
      ws.on('message', (data) => {
        const m = JSON.parse(String(data));
        if (m.type === 'subscribed') subscribed = true;
        else if (m.type === 'estimate') {
          count++;
          delivery.push(Date.now() - Date.parse(m.data.wallTime));
        }
      });
      ws.on('error', () => {});
      ws.on('close', () => {
        clearTimeout(close);
        resolve();
      });
    });
    if (!subscribed) failed++;
    if (count < t.minEstimatesPerSubscriber) starved++;
  });
  await Promise.all(connections);
  await feeding;
  const d = summarize(delivery);
  return report(
    'subscribers',
    scale,
    url,
    {
      deliveryMs: d,
      delivered: delivery.length,
      deliveredPerSecond: delivery.length / total,
      failed,
      starved,
    },
    [
      threshold('eri_delivery_ms p(99)', '<', t.deliveryP99Ms, d.p99Ms),
      threshold('eri_subscribe_failed rate', '<', t.subscribeFailRate, failed / s.connections),
      threshold('eri_subscriber_starved rate', '<', 0.01, starved / s.connections),
    ],
  );
}

/** join -> createWebRtcTransport -> leave on one connection; the join's round trip in ms, or an error. */
function churnOnce(url: string, room: string, sessionId: string): Promise<number | string> {
  const steps = [
    { method: 'join', params: { roomId: room, sessionId } },
    { method: 'createWebRtcTransport', params: {} },
    { method: 'leave', params: {} },
  ];
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsBase(url)}/v1/signal`);
    let step = 0;
    let sentAt = 0;
    let joinMs = 0;
    let outcome: number | string = 'timed out';
    const send = () => {
      sentAt = performance.now();
      ws.send(JSON.stringify({ id: step + 1, ...steps[step] }));
    };
    const timeout = setTimeout(() => ws.close(), 10_000);
    ws.on('open', send);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.id !== step + 1) return;
      if (!m.ok) {
        outcome = `${steps[step]?.method}: ${m.error.code} ${m.error.message}`;
        return ws.close();
      }
      if (step === 0) joinMs = performance.now() - sentAt;
      step++;
      if (step < steps.length) return send();
      outcome = joinMs;
      ws.close();
    });
    ws.on('error', (e) => {
      outcome = `socket: ${e.message}`;
    });
    ws.on('close', () => {
      clearTimeout(timeout);
      resolve(outcome);
    });
  });
}

async function signalling(url: string, sc: Scenarios, scale: Scale): Promise<LoadReport> {
  const c = sc.signalling[scale];
  const t = sc.signalling.thresholds;
  const joins: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const stamp = Date.now();
  await Promise.all(
    Array.from({ length: c.vus }, async () => {
      while (next < c.iterations) {
        const i = next++;
        const r = await churnOnce(url, sc.room, `load-sig-${i}-${stamp}`);
        if (typeof r === 'number') joins.push(r);
        else errors.push(r);
      }
    }),
  );
  const j = summarize(joins);
  return report('signalling', scale, url, { joinMs: j, iterations: c.iterations, failed: errors.length }, [
    threshold('eri_join_ms p(95)', '<', t.joinP95Ms, j.p95Ms),
    threshold('eri_signal_failed rate', '<', t.failRate, errors.length / c.iterations),
  ]);
}

async function history(url: string, sc: Scenarios, scale: Scale, media: PreparedMedia): Promise<LoadReport> {
  const h = sc.history[scale];
  const t = sc.history.thresholds;
  const base = url.replace(/\/$/, '');
  const finished = async () =>
    (
      (await (await fetch(`${base}/v1/sessions`)).json()) as {
        sessions: { sessionId: string; final: unknown }[];
      }
    ).sessions
      .filter((s) => s.final)
      .map((s) => s.sessionId);
  let ids = await finished();
  if (ids.length === 0) {
    await publishSession(url, sc.room, `load-history-${Date.now()}`, 5, media, newSink());
    ids = await finished();
  }
  const durations: number[] = [];
  let failed = 0;
  const until = Date.now() + h.seconds * 1000;
  await Promise.all(
    Array.from({ length: h.vus }, async () => {
      while (Date.now() < until) {
        const id = ids[Math.floor(Math.random() * ids.length)];
        await Promise.all(
          [
            `/v1/sessions`,
            `/v1/sessions/${id}/estimates`,
            `/v1/sessions/${id}/estimates?format=csv`,
            `/v1/sessions/${id}/final`,
          ].map(async (path) => {
            const t0 = performance.now();
            const r = await fetch(`${base}${path}`).catch(() => undefined);
            await r?.arrayBuffer();
            durations.push(performance.now() - t0);
            if (r?.status !== 200) failed++;
          }),
        );
      }
    }),
  );
  const d = summarize(durations);
  return report(
    'history',
    scale,
    url,
    { requestMs: d, requests: durations.length, failed, sessions: ids.length },
    [
      threshold('http_req_duration p(95)', '<', t.requestP95Ms, d.p95Ms),
      threshold('http_req_failed rate', '<', t.failRate, durations.length ? failed / durations.length : 1),
    ],
  );
}

function report(
  scenario: ScenarioName,
  scale: Scale,
  url: string,
  metrics: LoadReport['metrics'],
  thresholds: ThresholdResult[],
): LoadReport {
  return { scenario, scale, url, metrics, thresholds, passed: thresholds.every((t) => t.pass) };
}

export async function runScenario(
  name: ScenarioName,
  url: string,
  scenarios: Scenarios,
  scale: Scale,
  media: PreparedMedia,
): Promise<LoadReport> {
  switch (name) {
    case 'publishers':
      return publishers(url, scenarios, scale, media);
    case 'edge-publishers':
      return edgePublishers(url, scenarios, scale, media);
    case 'subscribers':
      return subscribers(url, scenarios, scale, media);
    case 'signalling':
      return signalling(url, scenarios, scale);
    case 'history':
      return history(url, scenarios, scale, media);
  }
}

export function formatLoadReport(r: LoadReport): string {
  const lines = [`${r.scenario} (${r.scale}) against ${r.url}: ${r.passed ? 'PASSED' : 'FAILED'}`];
  for (const [k, v] of Object.entries(r.metrics)) {
    lines.push(
      typeof v === 'number'
        ? `  ${k.padEnd(22)} ${Number.isInteger(v) ? v : v.toFixed(2)}`
        : `  ${k.padEnd(22)} median ${v.medianMs.toFixed(1)}  p95 ${v.p95Ms.toFixed(1)}  p99 ${v.p99Ms.toFixed(1)}  max ${v.maxMs.toFixed(1)}  (n ${v.n})`,
    );
  }
  for (const t of r.thresholds) {
    lines.push(
      `  ${t.pass ? 'ok  ' : 'FAIL'} ${t.metric} ${t.rule} (actual ${Number.isInteger(t.actual) ? t.actual : t.actual.toFixed(3)})`,
    );
  }
  return lines.join('\n');
}
