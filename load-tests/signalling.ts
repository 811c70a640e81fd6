// k6: signalling churn on /v1/signal: join a room, create a WebRTC transport, leave, disconnect.
// k6 run -e BASE_URL=http://host:8080 load-tests/signalling.ts
import exec from 'k6/execution';
import { Rate, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import ws from 'k6/ws';
import { ROOM, SCALE, SCENARIOS, wsUrl } from './lib/config.ts';

const c = SCENARIOS.signalling[SCALE];
const t = SCENARIOS.signalling.thresholds;
const joinMs = new Trend('eri_join_ms', true);
const failed = new Rate('eri_signal_failed');

export const options: Options = {
  scenarios: {
    churn: { executor: 'shared-iterations', vus: c.vus, iterations: c.iterations, maxDuration: '10m' },
  },
  thresholds: { eri_join_ms: [`p(95)<${t.joinP95Ms}`], eri_signal_failed: [`rate<${t.failRate}`] },
};

const STEPS = [
  {
    method: 'join',
    params: () => ({
      roomId: ROOM,
      sessionId: `k6-sig-${exec.vu.idInTest}-${exec.scenario.iterationInTest}`,
    }),
  },
  { method: 'createWebRtcTransport', params: () => ({}) },
  { method: 'leave', params: () => ({}) },
];

export default function (): void {
  let step = 0;
  let sentAt = 0;
  let ok = true;
  ws.connect(wsUrl('/v1/signal'), null, (socket) => {
    const next = () => {
      const s = STEPS[step];
      if (!s) return socket.close();
      sentAt = Date.now();
      socket.send(JSON.stringify({ id: step + 1, method: s.method, params: s.params() }));
    };
    socket.on('open', next);
    socket.on('message', (text: string) => {
      const m = JSON.parse(text);
      if (m.id !== step + 1) return; // a notification
      if (!m.ok) {
        ok = false;
        console.error(`${STEPS[step]?.method}: ${m.error.code} ${m.error.message}`);
        return socket.close();
      }
      if (step === 0) joinMs.add(Date.now() - sentAt);
      step++;
      next();
    });
    socket.setTimeout(() => {
      ok = false;
      socket.close();
    }, 10_000);
  });
  failed.add(!ok || step < STEPS.length);
}
