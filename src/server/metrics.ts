import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SessionRegistry } from '../sessions/registry.js';
import type { SessionStats } from '../sessions/session.js';

/**
 * Prometheus metrics (/metrics), on a registry of the server's own (no global state): sessions, steps,
 * dropped steps and estimates, estimate latency, capture-to-features latency, subscribers, messages out.
 * Totals over sessions that ended are kept here; live sessions' counts are read at scrape time.
 */

type EndedKey = 'steps' | 'droppedFaceSteps' | 'droppedEstimates' | 'stepsWithoutFrame';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly estimates: Counter;
  readonly messagesOut: Counter;
  readonly estimateLatency: Histogram;
  readonly subscribers: Gauge;
  readonly #ended: Record<EndedKey, number> = {
    steps: 0,
    droppedFaceSteps: 0,
    droppedEstimates: 0,
    stepsWithoutFrame: 0,
  };

  constructor(sessions: SessionRegistry, rooms: () => number = () => 0) {
    collectDefaultMetrics({ register: this.registry, prefix: 'eri_process_' });
    const live = () => sessions.list().map((s) => s.stats);
    const ended = this.#ended;
    const sum = (key: EndedKey) => ended[key] + live().reduce((a, s) => a + s[key], 0);
    new Gauge({
      name: 'eri_sessions',
      help: 'Live sessions',
      registers: [this.registry],
      collect() {
        this.set(sessions.size);
      },
    });
    new Gauge({
      name: 'eri_rooms',
      help: 'Open WebRTC rooms (one mediasoup router each)',
      registers: [this.registry],
      collect() {
        this.set(rooms());
      },
    });
    new Gauge({
      name: 'eri_steps_total',
      help: 'Analysis steps processed (10 per second of media per session)',
      registers: [this.registry],
      collect() {
        this.set(sum('steps'));
      },
    });
    new Gauge({
      name: 'eri_dropped_face_steps_total',
      help: 'Steps whose frame was not analysed because the session was behind',
      registers: [this.registry],
      collect() {
        this.set(sum('droppedFaceSteps'));
      },
    });
    new Gauge({
      name: 'eri_dropped_estimates_total',
      help: 'Running estimates skipped because the encoder was behind',
      registers: [this.registry],
      collect() {
        this.set(sum('droppedEstimates'));
      },
    });
    new Gauge({
      name: 'eri_steps_without_frame_total',
      help: 'Steps without a video frame (paused camera, late frames)',
      registers: [this.registry],
      collect() {
        this.set(sum('stepsWithoutFrame'));
      },
    });
    new Gauge({
      name: 'eri_capture_to_features_seconds',
      help: 'Median capture-to-features latency over live sessions (mean of their medians)',
      registers: [this.registry],
      collect() {
        const l = live();
        this.set(l.length ? l.reduce((a, s) => a + s.captureToFeaturesMs.median, 0) / l.length / 1000 : 0);
      },
    });
    this.estimates = new Counter({
      name: 'eri_estimates_total',
      help: 'Estimates emitted (running and final)',
      registers: [this.registry],
    });
    this.messagesOut = new Counter({
      name: 'eri_stream_messages_out_total',
      help: 'Messages sent to subscribers',
      registers: [this.registry],
    });
    this.subscribers = new Gauge({
      name: 'eri_subscribers',
      help: 'Connected subscribers',
      registers: [this.registry],
    });
    this.estimateLatency = new Histogram({
      name: 'eri_estimate_latency_seconds',
      help: "From a window's last feature step to its estimate",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
  }

  /** Redis bus health: connected, events waiting to be written, dropped because the buffer was full. */
  /** The embedded bus's history store: writes that failed (disk full, I/O error), since start. */
  watchHistory(bus: { stats: { writeErrors: number } }): void {
    new Gauge({
      name: 'eri_history_write_errors',
      help: 'History writes that failed since the server started (live delivery went on)',
      registers: [this.registry],
      collect() {
        this.set(bus.stats.writeErrors);
      },
    });
  }

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
    new Gauge({
      name: 'eri_redis_dropped_events_total',
      help: 'Events not written to Redis because the buffer was full',
      registers: [this.registry],
      collect() {
        this.set(bus.stats.dropped);
      },
    });
    new Gauge({
      name: 'eri_redis_written_events_total',
      help: 'Events written to Redis',
      registers: [this.registry],
      collect() {
        this.set(bus.stats.written);
      },
    });
  }

  sessionEnded(stats: SessionStats | undefined): void {
    if (!stats) return;
    this.#ended.steps += stats.steps;
    this.#ended.droppedFaceSteps += stats.droppedFaceSteps;
    this.#ended.droppedEstimates += stats.droppedEstimates;
    this.#ended.stepsWithoutFrame += stats.stepsWithoutFrame;
  }
}
