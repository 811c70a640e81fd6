import { merge, type Subscription } from 'rxjs';
import { IngestClient, type IngestServerMessage } from '../../packages/client/src/index.js';
import type { FeatureSpec } from '../contracts/feature-spec.js';
import { EDGE_FRAME_SIZE, type EdgeBackendChoice } from './edge-analysis.js';
import { cameraFrames, microphoneChunks } from './edge-capture.js';
import type { FromEdgeWorker, ToEdgeWorker } from './edge-worker-protocol.js';

/**
 * Publishing in edge mode: the camera and microphone are captured in this page and analysed in a worker
 * (`/public/edge-worker.js`, so the page stays responsive), and only feature steps go to the server,
 * over the frame ingest WebSocket (docs/ingest.md, "Edge mode"), which answers with this session's
 * estimates. When the analysis cannot keep up, a step goes without its face (as on the server), never
 * late: the step's audio and time still go.
 */

export interface EdgePublishOptions {
  /** The server's origin. */
  server: string;
  roomId: string;
  sessionId?: string;
  studyId?: string;
  token?: string;
  /** Playing the camera (the page's preview). */
  video: HTMLVideoElement;
  /** The camera and microphone. */
  stream: MediaStream;
  /** Where the networks run (default `wasm`; `webgpu` is opt-in and not validated, edge-analysis.ts). */
  backend?: EdgeBackendChoice;
  onMessage(message: IngestServerMessage): void;
}

export interface EdgePublication {
  sessionId: string;
  backend: string;
  /** Steps sent, and of those, steps whose frame was skipped because the analysis was busy. */
  readonly stats: { steps: number; faceSkipped: number };
  /** A study viewer's stimulus event, at the session's media time now (`stimulus.marked` answers). */
  stimulus(event: StimulusEvent, position: number): void;
  /** Ends the session (its final estimate follows) and stops capture; resolves once it has ended. */
  stop(): Promise<void>;
}

export type StimulusEvent = Parameters<IngestClient['stimulus']>[0];

async function modelSpec(server: string): Promise<FeatureSpec> {
  const res = await fetch(`${server}/v1/model`);
  if (!res.ok) throw new Error(`GET /v1/model: HTTP ${res.status}`);
  return ((await res.json()) as { card: { featureSpec: FeatureSpec } }).card.featureSpec;
}

/**
 * The worker script comes from the server. A page on another origin (a study site embedding the
 * library, with the server's ERI_CORS_ORIGINS listing it) may not start a worker from a cross-origin
 * URL, so it starts one of its own that loads the script; the script's own fetches (graphs, runtime)
 * then go to the server under CORS. `release` frees the bootstrap once the worker has loaded.
 */
function analysisWorker(server: string): { worker: Worker; release: () => void } {
  const script = `${server.replace(/\/$/, '')}/public/edge-worker.js`;
  if (new URL(script).origin === globalThis.location?.origin)
    return { worker: new Worker(script), release: () => {} };
  const bootstrap = URL.createObjectURL(
    new Blob([`importScripts(${JSON.stringify(script)});`], { type: 'text/javascript' }),
  );
  return { worker: new Worker(bootstrap), release: () => URL.revokeObjectURL(bootstrap) };
}

/** The analysis worker, opened on the model's spec; resolves once its graphs are loaded. */
async function openWorker(
  server: string,
  backend: EdgeBackendChoice | undefined,
  onStep: (message: FromEdgeWorker) => void,
): Promise<{ worker: Worker; opened: Extract<FromEdgeWorker, { type: 'opened' }> }> {
  const spec = await modelSpec(server);
  const { worker, release } = analysisWorker(server);
  const send = (m: ToEdgeWorker) => worker.postMessage(m);
  const opened = await new Promise<Extract<FromEdgeWorker, { type: 'opened' }>>((resolve, reject) => {
    worker.onerror = (e) => reject(new Error(`the analysis worker failed: ${e.message}`));
    worker.onmessage = (event: MessageEvent<FromEdgeWorker>) => {
      const m = event.data;
      if (m.type === 'opened') resolve(m);
      else if (m.type === 'error') reject(new Error(m.message));
      else onStep(m);
    };
    send({ type: 'open', server, spec, ...(backend ? { backend } : {}) });
  })
    .catch((error: unknown) => {
      worker.terminate();
      throw error;
    })
    .finally(release);
  worker.onmessage = (event: MessageEvent<FromEdgeWorker>) => onStep(event.data);
  return { worker, opened };
}

/** Starts the edge session on `ingest`; resolves with its id (every server message goes to onMessage). */
function startSession(
  ingest: IngestClient,
  o: EdgePublishOptions,
  analysis: Extract<FromEdgeWorker, { type: 'opened' }>['declared'],
): Promise<string> {
  const started = new Promise<string>((resolve, reject) => {
    ingest.messages$.subscribe({
      next: (m) => {
        o.onMessage(m);
        if (m.type === 'started') resolve(m.sessionId);
        if (m.type === 'error') reject(new Error(`${m.code}: ${m.message}`));
      },
      error: (e: unknown) => reject(e),
    });
  });
  ingest.start(o.roomId, {
    ...(o.sessionId ? { sessionId: o.sessionId } : {}),
    ...(o.studyId ? { studyId: o.studyId } : {}),
    analysis,
  });
  return started.catch((error: unknown) => {
    ingest.close();
    throw error;
  });
}

export async function publishEdge(o: EdgePublishOptions): Promise<EdgePublication> {
  const server = o.server.replace(/\/$/, '');
  const stats = { steps: 0, faceSkipped: 0 };
  let client: IngestClient | undefined;
  let stopped: () => void = () => {};
  const analysisDone = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const { worker, opened } = await openWorker(server, o.backend, (m) => {
    if (m.type === 'step') {
      stats.steps++;
      client?.features(m.step);
    }
    if (m.type === 'face-skipped') stats.faceSkipped++;
    if (m.type === 'stopped') stopped();
    if (m.type === 'error') o.onMessage({ type: 'error', code: 'ERI_ERR_FEATURES', message: m.message });
  });
  let ingest: IngestClient;
  let sessionId: string;
  try {
    ingest = await IngestClient.connect(server, o.token ? { token: o.token } : {});
    sessionId = await startSession(ingest, o, opened.declared);
  } catch (error) {
    // Nothing is published: the analysis and the connection go with the failed start.
    worker.terminate();
    throw error;
  }
  client = ingest;
  const startedAt = performance.now();
  const send = (m: ToEdgeWorker) => worker.postMessage(m);
  const capture: Subscription = merge(
    cameraFrames(o.video, EDGE_FRAME_SIZE, opened.declared.rateHz, startedAt),
    microphoneChunks(o.stream, startedAt),
  ).subscribe((item) => {
    // The frame's pixels are handed over, not copied (921,600 bytes ten times a second).
    if ('rgb' in item)
      worker.postMessage({ type: 'frame', frame: item } satisfies ToEdgeWorker, [item.rgb.buffer]);
    else send({ type: 'audio', chunk: item });
  });
  return {
    sessionId,
    backend: opened.backend,
    stats,
    stimulus: (event, position) =>
      ingest.stimulus(event, position, Math.max(0, (performance.now() - startedAt) / 1000)),
    stop: async () => {
      capture.unsubscribe();
      send({ type: 'stop' });
      // The steps still in analysis go first, then the end.
      await Promise.race([analysisDone, new Promise((r) => setTimeout(r, 2000))]);
      worker.terminate();
      const ended = new Promise<void>((resolve) => {
        ingest.messages$.subscribe({
          next: (m) => m.type === 'session.ended' && resolve(),
          error: () => resolve(),
          complete: () => resolve(),
        });
      });
      ingest.end();
      await ended;
      ingest.close();
    },
  };
}
