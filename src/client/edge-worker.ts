import { Subject } from 'rxjs';
import type { AudioChunk, VideoFrame } from '../../streams/align-media.js';
import { alignMedia } from '../../streams/align-media.js';
import { featurizeSteps } from '../../streams/featurize-steps.js';
import { openEdgeAnalysis } from './edge-analysis.js';
import type { FromEdgeWorker, ToEdgeWorker } from './edge-worker-protocol.js';

/**
 * The edge analysis worker (bundled into dist/public/edge-worker.js): one publication's steps, from the
 * page's frames and audio to feature steps (edge-worker-protocol.ts). Steps being analysed at once are
 * bounded: past MAX_IN_FLIGHT a step goes without its face, never late, as on the server.
 */

const MAX_IN_FLIGHT = 2;

const scope = globalThis as unknown as {
  postMessage(message: FromEdgeWorker): void;
  onmessage: ((event: MessageEvent<ToEdgeWorker>) => void) | null;
};
const post = (message: FromEdgeWorker) => scope.postMessage(message);
const frames = new Subject<VideoFrame>();
const audio = new Subject<AudioChunk>();

async function open(options: Parameters<typeof openEdgeAnalysis>[0]): Promise<void> {
  const opened = await openEdgeAnalysis(options);
  post({ type: 'opened', declared: opened.declared, backend: opened.backend });
  alignMedia(frames, audio, { rateHz: opened.declared.rateHz, maxWaitMs: 300 })
    .pipe(
      featurizeSteps(opened.featurizer(), {
        maxInFlight: MAX_IN_FLIGHT,
        onFaceDropped: () => post({ type: 'face-skipped' }),
      }),
    )
    .subscribe({
      // Copied (1.8 KB), not transferred: a vector may be a view into a buffer the analysis still holds.
      next: (step) =>
        post({
          type: 'step',
          step: {
            index: step.index,
            t: step.t,
            video: step.video,
            audio: step.audio,
            face: step.face,
            speech: step.speech,
            audioCoverage: step.audioCoverage,
            hasFrame: step.hasFrame,
          },
        }),
      error: (e: unknown) => post({ type: 'error', message: (e as Error).message }),
      complete: () => post({ type: 'stopped' }),
    });
}

scope.onmessage = (event) => {
  const m = event.data;
  if (m.type === 'open')
    open({ server: m.server, spec: m.spec, ...(m.backend ? { backend: m.backend } : {}) }).catch((e: Error) =>
      post({ type: 'error', message: e.message }),
    );
  if (m.type === 'frame') frames.next(m.frame);
  if (m.type === 'audio') audio.next(m.chunk);
  if (m.type === 'stop') {
    frames.complete();
    audio.complete();
  }
};
