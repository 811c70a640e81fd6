// Shared by every k6 script: where the server is, which scale, and the scenario's parameters and
// thresholds from scenarios.json (the same file `eri load` reads).

export interface Scenarios {
  room: string;
  subscribers: Scaled<{
    connections: number;
    rampSeconds: number;
    holdSeconds: number;
    publishers: number;
  }> & {
    thresholds: { deliveryP99Ms: number; subscribeFailRate: number; minEstimatesPerSubscriber: number };
  };
  publishers: Scaled<{ publishers: number; seconds: number }> & {
    thresholds: { captureToEstimateP95Ms: number; errors: number; minEstimatesPerPublisherPerMinute: number };
  };
  edgePublishers: Scaled<{ publishers: number; seconds: number }> & {
    thresholds: { stepToEstimateP95Ms: number; errors: number; minEstimatesPerPublisherPerMinute: number };
  };
  signalling: Scaled<{ vus: number; iterations: number }> & {
    thresholds: { joinP95Ms: number; failRate: number };
  };
  history: Scaled<{ vus: number; seconds: number }> & {
    thresholds: { requestP95Ms: number; failRate: number };
  };
}

type Scaled<T> = { small: T; full: T };

// k6 resolves open() against the calling file: lib/ here, dist/ for the bundles (npm run k6:build);
// both are one level below load-tests/, so '../' is load-tests/ either way.
export const SCENARIOS: Scenarios = JSON.parse(open('../scenarios.json'));
export const SCALE: 'small' | 'full' = __ENV.SCALE === 'small' ? 'small' : 'full';
export const BASE_URL: string = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const WS_URL: string = BASE_URL.replace(/^http/, 'ws');
export const ROOM: string = __ENV.ROOM || SCENARIOS.room;
/** Auth token, when the server requires one (sent as a bearer token / access_token query parameter). */
export const TOKEN: string = __ENV.ERI_TOKEN || '';

export function wsUrl(path: string): string {
  return TOKEN ? `${WS_URL}${path}?access_token=${encodeURIComponent(TOKEN)}` : `${WS_URL}${path}`;
}

/**
 * The prepared media (prepare-media.sh): MEDIA_DIR as given when absolute; a relative one is taken
 * against the working directory k6 was started in (as a user means `-e MEDIA_DIR=./media`), which k6
 * shows as PWD; without MEDIA_DIR, load-tests/media.
 */
export function mediaDir(): string {
  const given = __ENV.MEDIA_DIR;
  if (!given) return '../media';
  if (given.startsWith('/') || /^[A-Za-z]:[\\/]/.test(given)) return given;
  const cwd = __ENV.PWD;
  if (!cwd)
    throw new Error(
      `MEDIA_DIR=${given} is relative and the working directory is unknown (PWD is not set): pass an absolute path`,
    );
  return `${cwd.replace(/\/$/, '')}/${given.replace(/^\.\//, '')}`;
}
