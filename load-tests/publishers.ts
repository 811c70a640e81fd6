// k6: publishers over the WebSocket frame ingest, each a session of JPEG frames + PCM at 10 Hz from a
// real clip (prepare-media.sh), measuring capture (frame sent) to running estimate received.
// k6 run -e BASE_URL=http://host:8080 -e MEDIA_DIR=./media load-tests/publishers.ts
import exec from 'k6/execution';
import type { Options } from 'k6/options';
import { ROOM, SCALE, SCENARIOS } from './lib/config.ts';
import { publish } from './lib/ingest.ts';

const p = SCENARIOS.publishers[SCALE];
const t = SCENARIOS.publishers.thresholds;

export const options: Options = {
  scenarios: {
    publishers: {
      executor: 'per-vu-iterations',
      vus: p.publishers,
      iterations: 1,
      maxDuration: `${p.seconds + 60}s`,
    },
  },
  thresholds: {
    eri_capture_to_estimate_ms: [`p(95)<${t.captureToEstimateP95Ms}`],
    eri_ingest_errors: [`count<=${t.errors}`],
    eri_estimates: [
      `count>=${Math.floor((t.minEstimatesPerPublisherPerMinute * p.publishers * p.seconds) / 60)}`,
    ],
  },
};

export default function (): void {
  publish(ROOM, `k6-pub-${exec.vu.idInTest}-${Date.now()}`, p.seconds);
}
