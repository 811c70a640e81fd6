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
  signalling: Scaled<{ vus: number; iterations: number }> & {
    thresholds: { joinP95Ms: number; failRate: number };
  };
  history: Scaled<{ vus: number; seconds: number }> & {
    thresholds: { requestP95Ms: number; failRate: number };
  };
}

type Scaled<T> = { small: T; full: T };

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
