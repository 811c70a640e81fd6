import { endpointUrl } from '../../packages/client/src/socket.js';
import { edgeModeRequested, loadEdgeLibrary } from './edge-loader.js';
import { Signal, sendStream } from './webrtc-publisher.js';

/**
 * The study viewer page (`/watch?study=…&room=…[&token=…]`, bundled into dist/public/viewer.js): a
 * consent screen, then the camera and microphone are published while the stimulus plays, and every
 * play / pause / seek / buffering / ended of the stimulus is sent to the server with its position, so
 * this viewer's estimates land on the stimulus's own timeline. With `&analysis=edge` the features are
 * computed in this browser and only they are sent (the consent text says so).
 */

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const token = params.get('token') ?? undefined;
const studyId = params.get('study') ?? '';
const roomId = params.get('room') ?? '';
const edgeMode = edgeModeRequested(params);

function status(text: string, kind: 'info' | 'ok' | 'error' = 'info'): void {
  const el = $('status');
  el.textContent = text;
  el.dataset.kind = kind;
}

async function loadStudy(): Promise<{ name: string; durationS: number | null }> {
  const r = await fetch(`/v1/studies/${encodeURIComponent(studyId)}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  if (!r.ok)
    throw new Error(`this study link does not work (${r.status}): ask the study's organiser for a new one`);
  return ((await r.json()) as { study: { name: string; durationS: number | null } }).study;
}

type Marker = 'play' | 'pause' | 'seek' | 'buffering' | 'ended';

function markerReported(event: Marker, position: number): void {
  $('markers').dataset.count = String(Number($('markers').dataset.count ?? '0') + 1);
  $('markers').textContent = `${event} at ${position.toFixed(1)} s`;
}

/** Maps the player's events to stimulus markers; `playing` (not `play`) marks when frames really move. */
function reportMarkers(video: HTMLVideoElement, report: (event: Marker, position: number) => void): void {
  const send = (event: Marker) => report(event, video.currentTime);
  video.addEventListener('playing', () => send('play'));
  video.addEventListener('pause', () => {
    if (!video.ended) send('pause');
  });
  video.addEventListener('seeking', () => send('seek'));
  video.addEventListener('waiting', () => send('buffering'));
  video.addEventListener('ended', () => send('ended'));
}

async function start(): Promise<void> {
  $('consent').hidden = true;
  $('viewing').hidden = false;
  status('Asking for your camera and microphone…');
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: 640, height: 480, frameRate: 30 },
    // Echo cancellation keeps the stimulus's own sound (from your speakers) out of the microphone.
    audio: { echoCancellation: true, noiseSuppression: true },
  });
  ($('preview') as HTMLVideoElement).srcObject = stream;
  const video = $('stimulus') as HTMLVideoElement;
  if (edgeMode) return startFromEdge(stream, video);
  status('Connecting…');
  const signal = await Signal.open(endpointUrl(location.origin, '/v1/signal', token));
  signal.onNotification = (name, data) => {
    if (name === 'session.ended') {
      const d = data as { reason: string };
      status(`Measurement ended (${d.reason}). Thank you.`, d.reason === 'error' ? 'error' : 'info');
    }
  };
  const joined = await signal.request<{ sessionId: string; routerRtpCapabilities: unknown }>('join', {
    roomId,
    studyId,
  });
  $('viewing').dataset.session = joined.sessionId;
  reportMarkers(video, (event, position) => {
    signal
      .request('stimulus', { event, position })
      .then(() => markerReported(event, position))
      .catch((e: Error) => status(`could not report ${event}: ${e.message}`, 'error'));
  });
  await sendStream(signal, joined.routerRtpCapabilities, stream, (state) => {
    if (state === 'connected') {
      status('Measuring. Press play when you are ready; stop at any time.', 'ok');
      $('viewing').dataset.published = 'true';
    }
    if (state === 'failed') status('The connection failed.', 'error');
  });
  playStimulus(video, stream, async () => {
    await signal.request('leave');
  });
}

/** Edge mode: the features are computed in this page; stimulus events go on the same connection. */
async function startFromEdge(stream: MediaStream, video: HTMLVideoElement): Promise<void> {
  status('Loading the analysis into this page…');
  const edge = await loadEdgeLibrary();
  const marked: { event: Marker; position: number }[] = [];
  const publication = await edge.publishEdge({
    server: location.origin,
    roomId,
    studyId,
    ...(token ? { token } : {}),
    video: $('preview') as HTMLVideoElement,
    stream,
    onMessage: (m) => {
      const next = m.type === 'stimulus.marked' ? marked.shift() : undefined;
      if (next) markerReported(next.event, next.position);
      if (m.type === 'error') status(`${m.code}: ${m.message}`, 'error');
      if (m.type === 'session.ended')
        status(
          `Measurement ended (${m.data.reason}). Thank you.`,
          m.data.reason === 'error' ? 'error' : 'info',
        );
    },
  });
  $('viewing').dataset.session = publication.sessionId;
  reportMarkers(video, (event, position) => {
    marked.push({ event, position });
    publication.stimulus(event, position);
  });
  status('Measuring in this browser. Press play when you are ready; stop at any time.', 'ok');
  $('viewing').dataset.published = 'true';
  playStimulus(video, stream, () => publication.stop());
}

/** The stimulus, full screen on request; Stop ends the measurement and the camera. */
function playStimulus(video: HTMLVideoElement, stream: MediaStream, end: () => Promise<void>): void {
  video.src = `/v1/studies/${encodeURIComponent(studyId)}/stimulus${token ? `?access_token=${encodeURIComponent(token)}` : ''}`;
  $('fullscreen').addEventListener('click', () => video.requestFullscreen().catch(() => {}));
  $('stop').addEventListener(
    'click',
    async () => {
      video.pause();
      await end().catch(() => {});
      for (const track of stream.getTracks()) track.stop();
      status('Stopped. Nothing more is measured.', 'info');
    },
    { once: true },
  );
}

window.addEventListener('DOMContentLoaded', () => {
  loadStudy().then(
    (study) => {
      $('study-name').textContent = study.name;
      for (const el of document.querySelectorAll<HTMLElement>('[data-analysis]'))
        el.hidden = el.dataset.analysis !== (edgeMode ? 'edge' : 'server');
      $('consent').hidden = false;
      if (params.get('autostart')) $('agree').click();
    },
    (e: Error) => status(e.message, 'error'),
  );
  $('agree').addEventListener('click', () => start().catch((e: Error) => status(e.message, 'error')));
  $('decline').addEventListener('click', () => {
    $('consent').hidden = true;
    status('Nothing was measured. You can close this page.');
  });
});
