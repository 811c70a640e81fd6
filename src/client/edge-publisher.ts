import { Subject, type Subscription, takeUntil } from 'rxjs';
import { IngestClient, type IngestServerMessage } from '../../packages/client/src/index.js';
import { alignMedia } from '../../streams/align-media.js';
import { featurizeSteps } from '../../streams/featurize-steps.js';
import type { FeatureSpec } from '../contracts/feature-spec.js';
import { EDGE_FRAME_SIZE, type OpenedEdgeAnalysis, openEdgeAnalysis } from './edge-analysis.js';
import { cameraFrames, microphoneChunks } from './edge-capture.js';

/**
 * Publishing in edge mode: the camera and microphone are analysed in this page, and only feature steps
 * go to the server, over the frame ingest WebSocket (docs/ingest.md, "Edge mode"), which answers with
 * this session's estimates. When the page cannot keep up, a step goes without its face (as on the
 * server), never late: the step's audio and time still go.
 */

/** Steps being analysed at once before a frame is skipped (the page has one thread for it). */
const MAX_IN_FLIGHT = 2;

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
  onMessage(message: IngestServerMessage): void;
}

export interface EdgePublication {
  sessionId: string;
  backend: string;
  /** Steps sent, and of those, steps whose frame was skipped because the page was busy. */
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

export async function publishEdge(o: EdgePublishOptions): Promise<EdgePublication> {
  const server = o.server.replace(/\/$/, '');
  const opened: OpenedEdgeAnalysis = await openEdgeAnalysis({ server, spec: await modelSpec(server) });
  const client = await IngestClient.connect(server, o.token ? { token: o.token } : {});
  const started = new Promise<string>((resolve, reject) => {
    client.messages$.subscribe({
      next: (m) => {
        o.onMessage(m);
        if (m.type === 'started') resolve(m.sessionId);
        if (m.type === 'error') reject(new Error(`${m.code}: ${m.message}`));
      },
      error: (e: unknown) => reject(e),
    });
  });
  client.start(o.roomId, {
    ...(o.sessionId ? { sessionId: o.sessionId } : {}),
    ...(o.studyId ? { studyId: o.studyId } : {}),
    analysis: opened.declared,
  });
  const sessionId = await started;
  const rate = opened.declared.rateHz;
  const startedAt = performance.now();
  const stop$ = new Subject<void>();
  const stats = { steps: 0, faceSkipped: 0 };
  const featurizer = opened.featurizer();
  const subscription: Subscription = alignMedia(
    cameraFrames(o.video, EDGE_FRAME_SIZE, rate, startedAt).pipe(takeUntil(stop$)),
    microphoneChunks(o.stream, startedAt).pipe(takeUntil(stop$)),
    { rateHz: rate, maxWaitMs: 300 },
  )
    .pipe(
      featurizeSteps(featurizer, {
        maxInFlight: MAX_IN_FLIGHT,
        onFaceDropped: () => {
          stats.faceSkipped++;
        },
      }),
    )
    .subscribe((step) => {
      stats.steps++;
      client.features(step);
    });
  return {
    sessionId,
    backend: opened.backend,
    stats,
    stimulus: (event, position) =>
      client.stimulus(event, position, Math.max(0, (performance.now() - startedAt) / 1000)),
    stop: async () => {
      stop$.next();
      subscription.unsubscribe();
      const ended = new Promise<void>((resolve) => {
        client.messages$.subscribe({
          next: (m) => m.type === 'session.ended' && resolve(),
          error: () => resolve(),
          complete: () => resolve(),
        });
      });
      client.end();
      await ended;
      client.close();
    },
  };
}
