import { endpointUrl } from '../../packages/client/src/socket.js';
import type { JoinResult } from '../contracts/signalling.js';
import { edgeModeRequested, loadEdgeLibrary } from './edge-loader.js';
import { fetchModel, showModel } from './model-badge.js';
import { Signal, sendStream } from './webrtc-publisher.js';

/**
 * The publisher page's script (bundled by esbuild into dist/public/publisher.js): camera preview,
 * publishing over WebRTC with mediasoup-client, and this viewer's own live estimate from the server.
 * In edge mode (the checkbox, or `?analysis=edge`) the page computes the features itself and sends
 * only those: camera video and sound never leave the browser.
 */

const EMOTIONS = ['Adoration', 'Amusement', 'Anxiety', 'Disgust', 'Empathic-Pain', 'Fear', 'Surprise'];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function status(text: string, kind: 'info' | 'ok' | 'error' = 'info'): void {
  const el = $('status');
  el.textContent = text;
  el.dataset.kind = kind;
}

function renderEstimate(e: {
  values: number[];
  coverage: { face: number; speech: number };
  windowEnd: number;
  final: boolean;
}): void {
  const rows = EMOTIONS.map((name, i) => {
    const v = e.values[i] ?? 0;
    return `<div class="row"><span class="name">${name}</span><span class="bar"><span style="width:${(v * 100).toFixed(1)}%"></span></span><span class="value">${v.toFixed(2)}</span></div>`;
  }).join('');
  $('estimate').innerHTML = rows;
  $('coverage').textContent =
    `${e.final ? 'final, whole session' : `at ${e.windowEnd.toFixed(0)} s`} · face ${(e.coverage.face * 100).toFixed(0)} % · speech ${(e.coverage.speech * 100).toFixed(0)} %`;
  $('estimates').dataset.count = String(Number($('estimates').dataset.count ?? '0') + 1);
}

function sessionEnded(d: { reason: string; error?: { message: string } }): void {
  status(
    `Session ended (${d.reason})${d.error ? `: ${d.error.message}` : ''}`,
    d.reason === 'error' ? 'error' : 'info',
  );
}

/** Stop ends the session and the camera; `?autostop=S` presses it after S seconds. */
function stopWith(stop: () => Promise<void>, stream: MediaStream): void {
  const params = new URLSearchParams(location.search);
  $('stop').removeAttribute('disabled');
  $('stop').addEventListener(
    'click',
    async () => {
      $('stop').setAttribute('disabled', '');
      await stop().catch(() => {});
      for (const track of stream.getTracks()) track.stop();
      status('Stopped. The final estimate covers the whole session.');
    },
    { once: true },
  );
  if (params.get('autostop')) setTimeout(() => $('stop').click(), Number(params.get('autostop')) * 1000);
}

/** Edge mode: the features are computed here and only they are sent (the frame ingest). */
async function publishFromEdge(stream: MediaStream, roomId: string, sessionId: string | undefined) {
  status('Loading the analysis into this page…');
  const edge = await loadEdgeLibrary();
  const token = new URLSearchParams(location.search).get('token') ?? undefined;
  const publication = await edge.publishEdge({
    server: location.origin,
    roomId,
    ...(sessionId ? { sessionId } : {}),
    ...(token ? { token } : {}),
    video: $('preview') as HTMLVideoElement,
    stream,
    onMessage: (m) => {
      if (m.type === 'estimate') renderEstimate(m.data);
      if (m.type === 'session.ended') sessionEnded(m.data);
      if (m.type === 'error') status(`${m.code}: ${m.message}`, 'error');
    },
  });
  $('session-id').textContent = publication.sessionId;
  $('mode').textContent = `analysed in this browser on ${publication.backend}; only features are sent`;
  status(`Publishing features to room “${roomId}”. Estimates appear every second.`, 'ok');
  stopWith(() => publication.stop(), stream);
}

async function publish(): Promise<void> {
  const roomId = ($('room') as HTMLInputElement).value || 'lobby';
  const sessionId = ($('session') as HTMLInputElement).value || undefined;
  $('start').setAttribute('disabled', '');
  status('Asking for the camera and microphone…');
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: 640, height: 480, frameRate: 30 },
    audio: { echoCancellation: true, noiseSuppression: true },
  });
  ($('preview') as HTMLVideoElement).srcObject = stream;
  if (($('edge') as HTMLInputElement).checked) return publishFromEdge(stream, roomId, sessionId);
  status('Connecting…');
  const wsUrl = endpointUrl(
    location.origin,
    '/v1/signal',
    new URLSearchParams(location.search).get('token') ?? undefined,
  );
  const signal = await Signal.open(wsUrl);
  signal.onNotification = (name, data) => {
    if (name === 'estimate') renderEstimate(data as Parameters<typeof renderEstimate>[0]);
    if (name === 'session.ended') sessionEnded(data as Parameters<typeof sessionEnded>[0]);
  };
  const joined = await signal.request<JoinResult>('join', {
    roomId,
    ...(sessionId ? { sessionId } : {}),
  });
  $('session-id').textContent = joined.sessionId;
  showModel(joined.model);
  await sendStream(signal, joined.routerRtpCapabilities, stream, (state) => {
    if (state === 'connected') status(`Publishing to room “${roomId}”. Estimates appear every second.`, 'ok');
    if (state === 'failed') status('The media connection failed.', 'error');
  });
  $('mode').textContent = 'analysed by the server';
  stopWith(async () => {
    await signal.request('leave');
  }, stream);
}

window.addEventListener('DOMContentLoaded', () => {
  const params = new URLSearchParams(location.search);
  ($('room') as HTMLInputElement).value = params.get('room') ?? 'lobby';
  ($('session') as HTMLInputElement).value = params.get('session') ?? '';
  const edge = $('edge') as HTMLInputElement;
  const describeMode = () => {
    for (const el of document.querySelectorAll<HTMLElement>('[data-analysis]'))
      el.hidden = el.dataset.analysis !== (edge.checked ? 'edge' : 'server');
  };
  edge.checked = edgeModeRequested(params);
  edge.addEventListener('change', describeMode);
  describeMode();
  $('start').addEventListener('click', () => {
    publish().catch((e: Error) => {
      status(e.message, 'error');
      $('start').removeAttribute('disabled');
    });
  });
  if (params.get('autostart')) $('start').click();
  fetchModel().then(showModel, (e: Error) => {
    $('model').textContent = `unknown (${e.message})`;
  });
});
