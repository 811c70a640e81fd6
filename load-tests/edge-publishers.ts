// k6: edge publishers over the WebSocket frame ingest (docs/ingest.md, "Edge mode"): each a session of
// feature steps at 10 Hz, as a viewer's browser computes them, from a real clip (prepare-media.sh),
// measuring the window's last step sent to its running estimate received.
// k6 run -e BASE_URL=http://host:8080 -e MEDIA_DIR=./media load-tests/edge-publishers.ts

import { sleep } from 'k6';
import exec from 'k6/execution';
import type { Options } from 'k6/options';
import { ROOM, SCALE, SCENARIOS } from './lib/config.ts';
import { publishEdge } from './lib/ingest.ts';

const p = SCENARIOS.edgePublishers[SCALE];
const t = SCENARIOS.edgePublishers.thresholds;

export const options: Options = {
  scenarios: {
    edgePublishers: {
      executor: 'per-vu-iterations',
      vus: p.publishers,
      iterations: 1,
      maxDuration: `${p.seconds + 60}s`,
    },
  },
  thresholds: {
    eri_step_to_estimate_ms: [`p(95)<${t.stepToEstimateP95Ms}`],
    eri_ingest_errors: [`count<=${t.errors}`],
    eri_estimates: [
      `count>=${Math.floor((t.minEstimatesPerPublisherPerMinute * p.publishers * p.seconds) / 60)}`,
    ],
  },
};

export default function (): void {
  // Viewers join at independent moments: their first steps spread over a second.
  sleep(((exec.vu.idInTest - 1) % p.publishers) / p.publishers);
  publishEdge(ROOM, `k6-edge-${exec.vu.idInTest}-${Date.now()}`, p.seconds);
}
