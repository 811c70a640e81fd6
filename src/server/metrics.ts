import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SessionObserver } from '../sessions/session.js';

/**
 * Prometheus metrics (/metrics), on a registry of the server's own (no global state). Counts are
 * counters, incremented where the thing happens; latencies are histograms observed once per step,
 * estimate or delivery, so they aggregate across sessions and nodes; levels (sessions, rooms,
 * subscribers) are gauges read at scrape time. Node's process metrics keep their standard names
 * (process_cpu_seconds_total, nodejs_eventloop_lag_seconds …) so stock Node.js dashboards work.
 * Every name here is in docs/operations.md and deploy/grafana/eri-stream.json; a test checks both.
 */

export interface BuildInfo {
  version: string;
  model: string;
  modelVersion: string;
  featureSpec: string;
  node: string;
}

export interface MetricsSources {
  sessions: () => number;
  rooms: () => number;
  build: BuildInfo;
}

/** Where a refusal or error happened (a label). */
export type Surface = 'rest' | 'signal' | 'ingest' | 'stream';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly estimates: Counter;
  readonly messagesOut: Counter;
  readonly estimateLatency: Histogram;
  readonly deliveryLatency: Histogram;
  readonly subscribers: Gauge;
  readonly #errors: Counter;
  readonly #refused: Counter;
  /** Told by every session of its steps (SessionRegistry passes it on). */
  readonly observer: SessionObserver;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // prom-client also exports these three sums as gauges named *_total, which Prometheus' own lint
    // (promtool check metrics) rejects; the per-type gauges without the suffix stay and sum to them.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ])
      this.registry.removeSingleMetric(name);
    new Gauge({
      name: 'eri_build_info',
      help: 'Always 1; the labels say which server, model and feature spec this node runs',
      labelNames: ['version', 'model', 'model_version', 'feature_spec', 'node_version'],
      registers,
    }).set(
      {
        version: sources.build.version,
        model: sources.build.model,
        model_version: sources.build.modelVersion,
        feature_spec: sources.build.featureSpec,
        node_version: sources.build.node,
      },
      1,
    );
    new Gauge({
      name: 'eri_sessions',
      help: 'Live sessions on this node',
      registers,
      collect() {
        this.set(sources.sessions());
      },
    });
    new Gauge({
      name: 'eri_rooms',
      help: 'Open WebRTC rooms (one mediasoup router each)',
      registers,
      collect() {
        this.set(sources.rooms());
      },
    });
    const steps = new Counter({
      name: 'eri_steps_total',
      help: 'Analysis steps processed (10 per second of media per session)',
      registers,
    });
    const faceSteps = new Counter({
      name: 'eri_face_steps_total',
      help: 'Steps whose features hold a face',
      registers,
    });
    const withoutFrame = new Counter({
      name: 'eri_steps_without_frame_total',
      help: 'Steps without a video frame (paused camera, late frames)',
      registers,
    });
    const droppedFace = new Counter({
      name: 'eri_dropped_face_steps_total',
      help: 'Steps whose frame was not analysed because the session was behind',
      registers,
    });
    const droppedEstimates = new Counter({
      name: 'eri_dropped_estimates_total',
      help: 'Running estimates skipped because the encoder was behind',
      registers,
    });
    // Media time of a step's end -> its features ready. Healthy is 0.1-0.5 s (decode, alignment, face
    // networks); past 1 s the node is behind; the wait for a late modality caps it near 1-2 s.
    const captureToFeatures = new Histogram({
      name: 'eri_capture_to_features_seconds',
      help: "From a step's media time to its features being ready (transport, decoding, alignment, face and audio networks)",
      buckets: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
      registers,
    });
    this.observer = {
      step: (info) => {
        steps.inc();
        if (info.face) faceSteps.inc();
        if (info.withoutFrame) withoutFrame.inc();
        if (info.captureToFeaturesSeconds !== undefined)
          captureToFeatures.observe(info.captureToFeaturesSeconds);
      },
      faceStepDropped: () => droppedFace.inc(),
      estimateDropped: () => droppedEstimates.inc(),
    };
    this.estimates = new Counter({
      name: 'eri_estimates_total',
      help: 'Estimates emitted (running and final)',
      registers,
    });
    this.estimateLatency = new Histogram({
      name: 'eri_estimate_latency_seconds',
      help: "From a window's last feature step to its estimate (GRU steps are done by then: the encoder and head)",
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: 'eri_delivery_latency_seconds',
      help: 'From an estimate being made to its being written to a subscriber socket (includes the Redis hop on another node)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.messagesOut = new Counter({
      name: 'eri_stream_messages_out_total',
      help: 'Messages sent to subscribers',
      registers,
    });
    this.subscribers = new Gauge({
      name: 'eri_subscribers',
      help: 'Connected subscribers',
      registers,
    });
    this.#refused = new Counter({
      name: 'eri_connections_refused_total',
      help: 'WebSocket upgrades refused, by endpoint and error code (unauthenticated, forbidden, limit, shutting down)',
      labelNames: ['endpoint', 'code'],
      registers,
    });
    this.#errors = new Counter({
      name: 'eri_errors_total',
      help: 'Typed errors sent to clients, by surface and error code',
      labelNames: ['surface', 'code'],
      registers,
    });
  }

  refused(endpoint: string, code: string): void {
    this.#refused.inc({ endpoint, code });
  }

  error(surface: Surface, code: string): void {
    this.#errors.inc({ surface, code });
  }

  /** The embedded bus's history store: writes that failed (disk full, I/O error), since start. */
  watchHistory(bus: { stats: { writeErrors: number } }): void {
    monotonic(
      this.registry,
      'eri_history_write_errors_total',
      'History writes that failed (live delivery went on)',
      () => bus.stats.writeErrors,
    );
  }

  /** Redis bus health: connected, events waiting to be written, dropped because the buffer was full. */
  watchRedis(bus: {
    stats: { connected: boolean; buffered: number; dropped: number; written: number };
  }): void {
    new Gauge({
      name: 'eri_redis_connected',
      help: '1 while the Redis bus is connected',
      registers: [this.registry],
      collect() {
        this.set(bus.stats.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'eri_redis_buffered_events',
      help: 'Events waiting to be written to Redis (it was unreachable)',
      registers: [this.registry],
      collect() {
        this.set(bus.stats.buffered);
      },
    });
    monotonic(
      this.registry,
      'eri_redis_dropped_events_total',
      'Events not written to Redis because the buffer was full',
      () => bus.stats.dropped,
    );
    monotonic(
      this.registry,
      'eri_redis_written_events_total',
      'Events written to Redis',
      () => bus.stats.written,
    );
  }
}

/** A counter over a count another object keeps (only ever growing): brought up to it at scrape time. */
function monotonic(registry: Registry, name: string, help: string, read: () => number): void {
  let reported = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > reported) this.inc(now - reported);
      reported = Math.max(reported, now);
    },
  });
}
