// k6: REST history reads (session list, a session's estimates as JSON and CSV, its final estimate) on
// sessions that already ran. Publish some first (publishers.ts), or this script's setup publishes one.
// k6 run -e BASE_URL=http://host:8080 -e MEDIA_DIR=./media load-tests/history.ts
import { check } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';
import { BASE_URL, ROOM, SCALE, SCENARIOS, TOKEN } from './lib/config.ts';
import { publish } from './lib/ingest.ts';

const h = SCENARIOS.history[SCALE];
const t = SCENARIOS.history.thresholds;
const params = TOKEN ? { headers: { authorization: `Bearer ${TOKEN}` } } : {};

export const options: Options = {
  scenarios: { reads: { executor: 'constant-vus', vus: h.vus, duration: `${h.seconds}s` } },
  thresholds: { http_req_duration: [`p(95)<${t.requestP95Ms}`], http_req_failed: [`rate<${t.failRate}`] },
};

export function setup(): { ids: string[] } {
  const list = () =>
    (http.get(`${BASE_URL}/v1/sessions`, params).json('sessions') as {
      sessionId: string;
      final?: unknown;
    }[]) ?? [];
  let sessions = list().filter((s) => s.final);
  if (sessions.length === 0) {
    publish(ROOM, `k6-history-${Date.now()}`, 5);
    sessions = list().filter((s) => s.final);
  }
  return { ids: sessions.map((s) => s.sessionId) };
}

export default function (data: { ids: string[] }): void {
  const id = data.ids[Math.floor(Math.random() * data.ids.length)] as string;
  const responses = http.batch([
    ['GET', `${BASE_URL}/v1/sessions`, null, params],
    ['GET', `${BASE_URL}/v1/sessions/${id}/estimates`, null, params],
    ['GET', `${BASE_URL}/v1/sessions/${id}/estimates?format=csv`, null, params],
    ['GET', `${BASE_URL}/v1/sessions/${id}/final`, null, params],
  ]);
  for (const r of responses) check(r, { 'status 200': (x) => x.status === 200 });
}
