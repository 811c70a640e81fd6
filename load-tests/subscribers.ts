// k6: subscriber fan-out on /v1/stream, ramped to the scenario's connection count (10,000 at full scale),
// all following one room that the scenario's own publishers feed. Delivery latency: receive time minus
// the estimate's wallTime (run k6 on a machine whose clock agrees with the server's, e.g. the same one).
// k6 run -e BASE_URL=http://host:8080 -e MEDIA_DIR=./media load-tests/subscribers.ts
import { sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import ws from 'k6/ws';
import { ROOM, SCALE, SCENARIOS, wsUrl } from './lib/config.ts';
import { publish } from './lib/ingest.ts';

const s = SCENARIOS.subscribers[SCALE];
const t = SCENARIOS.subscribers.thresholds;
const delivery = new Trend('eri_delivery_ms', true);
const subscribeFailed = new Rate('eri_subscribe_failed');
const received = new Counter('eri_subscriber_estimates');
const starved = new Rate('eri_subscriber_starved');
const total = s.rampSeconds + s.holdSeconds;

export const options: Options = {
  scenarios: {
    subscribers: {
      executor: 'ramping-vus',
      exec: 'subscriber',
      startVUs: 0,
      stages: [
        { duration: `${s.rampSeconds}s`, target: s.connections },
        { duration: `${s.holdSeconds}s`, target: s.connections },
      ],
      gracefulRampDown: '5s',
    },
    publishers: {
      executor: 'per-vu-iterations',
      exec: 'publisher',
      vus: s.publishers,
      iterations: 1,
      maxDuration: `${total + 60}s`,
    },
  },
  thresholds: {
    eri_delivery_ms: [`p(99)<${t.deliveryP99Ms}`],
    eri_subscribe_failed: [`rate<${t.subscribeFailRate}`],
    eri_subscriber_starved: ['rate<0.01'],
  },
};

export function publisher(): void {
  publish(ROOM, `k6-fanout-${exec.vu.idInTest}-${Date.now()}`, total + 5);
}

/**
 * One connection per VU for the whole scenario: ramping-vus calls this again whenever it returns, so a
 * VU whose connection ended (at the end of the hold, or closed early by the server) sleeps out the
 * scenario instead of opening a fresh short one. Exactly one subscribe-failed and one starved sample per
 * connection, as `eri load run` counts them: failed = no `subscribed` (refused, unreachable, closed first).
 */
export function subscriber(): void {
  const left = () => total - (Date.now() - exec.scenario.startTime) / 1000;
  if (exec.vu.iterationInScenario > 0) {
    if (left() > 0) sleep(left());
    return;
  }
  let count = 0;
  let subscribed = false;
  let status = 0;
  try {
    // k6 throws when the connection itself fails (refused, unreachable): that is a failed subscription.
    status = connect(
      () => count++,
      () => {
        subscribed = true;
      },
    );
  } catch (error) {
    console.warn(`subscriber ${exec.vu.idInTest}: ${String(error)}`);
  }
  if (status !== 101) subscribed = false;
  subscribeFailed.add(!subscribed);
  starved.add(count < t.minEstimatesPerSubscriber);
}

/** One /v1/stream connection, held to the end of the scenario; returns the upgrade's status. */
function connect(onEstimate: () => void, onSubscribed: () => void): number {
  const left = total - (Date.now() - exec.scenario.startTime) / 1000;
  const response = ws.connect(wsUrl('/v1/stream'), null, (socket) => {
    socket.on('open', () =>
      socket.send(JSON.stringify({ type: 'subscribe', id: 1, target: { roomId: ROOM } })),
    );
    socket.on('message', (text: string) => {
      const m = JSON.parse(text);
      if (m.type === 'subscribed') onSubscribed();
      else if (m.type === 'estimate') {
        onEstimate();
        received.add(1);
        delivery.add(Date.now() - Date.parse(m.data.wallTime));
      }
    });
    // Hold the connection until the end of the hold stage, however late this VU started.
    socket.setTimeout(() => socket.close(), Math.max(1, left) * 1000);
  });
  return response?.status ?? 0;
}
