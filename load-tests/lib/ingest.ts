// Publishing over the WebSocket frame ingest (/v1/ingest, docs/ingest.md): JPEG frames and 16-bit PCM
// at 10 Hz, from media prepared by prepare-media.sh (frames of a real clip, its audio).
import { Counter, Trend } from 'k6/metrics';
import ws from 'k6/ws';
import { mediaDir, wsUrl } from './config.ts';

const MEDIA_DIR = mediaDir();
const manifest: {
  frames: number;
  rateHz: number;
  sampleRate: number;
  edge: { analysis: { rateHz: number }; steps: number };
} = JSON.parse(open(`${MEDIA_DIR}/media.json`));
const frames: ArrayBuffer[] = [];
for (let i = 1; i <= manifest.frames; i++)
  frames.push(open(`${MEDIA_DIR}/frames/${String(i).padStart(5, '0')}.jpg`, 'b'));
const audio: ArrayBuffer = open(`${MEDIA_DIR}/audio.pcm`, 'b');

export const captureToEstimate = new Trend('eri_capture_to_estimate_ms', true);
export const estimates = new Counter('eri_estimates');
export const ingestErrors = new Counter('eri_ingest_errors');

/**
 * kind 1 = JPEG frame, 2 = PCM chunk, 3 = a feature step (edge mode); bytes 8-15: media time in seconds
 * (float64 LE); payload from 16.
 */
function message(kind: 1 | 2 | 3, t: number, payload: ArrayBuffer): ArrayBuffer {
  const out = new Uint8Array(16 + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, kind);
  view.setFloat64(8, t, true);
  out.set(new Uint8Array(payload), 16);
  return out.buffer;
}

/**
 * What the server says on an ingest session: each running estimate counted and timed from when the
 * step its window ends on was sent (`sentFor`), errors counted, and the end closes the socket.
 */
function onServerMessage(
  socket: { close(): void },
  text: string,
  latency: Trend,
  sentFor: (windowEnd: number) => number | undefined,
): void {
  const m = JSON.parse(text);
  if (m.type === 'estimate' && !m.data.final) {
    estimates.add(1);
    const sent = sentFor(m.data.windowEnd);
    if (sent !== undefined) latency.add(Date.now() - sent);
  } else if (m.type === 'error') {
    ingestErrors.add(1);
    console.error(`ingest error ${m.code}: ${m.message}`);
  } else if (m.type === 'session.ended') socket.close();
}

/** One publisher session of `seconds`, looping the prepared clip; resolves when the server ends it. */
export function publish(room: string, sessionId: string, seconds: number): void {
  const stepMs = 1000 / manifest.rateHz;
  const chunk = Math.round(manifest.sampleRate / manifest.rateHz) * 2;
  const sentAt: Record<string, number> = {};
  ws.connect(wsUrl('/v1/ingest'), null, (socket) => {
    let step = 0;
    socket.on('open', () => {
      socket.send(JSON.stringify({ type: 'start', roomId: room, sessionId }));
      socket.setInterval(() => {
        if (step >= seconds * manifest.rateHz) return;
        const t = step / manifest.rateHz;
        const i = step % manifest.frames;
        const offset = (i * chunk) % Math.max(chunk, audio.byteLength - chunk);
        sentAt[t.toFixed(1)] = Date.now();
        socket.sendBinary(message(1, t, frames[i] as ArrayBuffer));
        socket.sendBinary(message(2, t, audio.slice(offset, offset + chunk)));
        step++;
        if (step === seconds * manifest.rateHz) socket.send(JSON.stringify({ type: 'end' }));
      }, stepMs);
    });
    // The estimate covers media up to windowEnd: the frame for the step that ends there was sent at…
    socket.on('message', (text: string) =>
      onServerMessage(
        socket,
        text,
        captureToEstimate,
        (windowEnd) => sentAt[(windowEnd - 1 / manifest.rateHz).toFixed(1)],
      ),
    );
    socket.setTimeout(() => socket.close(), (seconds + 15) * 1000);
  });
}

const steps: ArrayBuffer = open(`${MEDIA_DIR}/steps.bin`, 'b');
const stepBytes = steps.byteLength / manifest.edge.steps;

export const stepToEstimate = new Trend('eri_step_to_estimate_ms', true);

/**
 * One edge publisher session of `seconds` (docs/ingest.md, "Edge mode"): the clip's feature steps at
 * 10 Hz, as a viewer's browser sends them, looped; latency is the window's last step sent -> its
 * running estimate received.
 */
export function publishEdge(room: string, sessionId: string, seconds: number): void {
  const rate = manifest.edge.analysis.rateHz;
  const total = seconds * rate;
  const sentAt: number[] = [];
  ws.connect(wsUrl('/v1/ingest'), null, (socket) => {
    let step = 0;
    socket.on('open', () => {
      socket.send(
        JSON.stringify({ type: 'start', roomId: room, sessionId, analysis: manifest.edge.analysis }),
      );
      socket.setInterval(() => {
        if (step >= total) return;
        const i = step % manifest.edge.steps;
        sentAt[step] = Date.now();
        socket.sendBinary(message(3, step / rate, steps.slice(i * stepBytes, (i + 1) * stepBytes)));
        step++;
        if (step === total) socket.send(JSON.stringify({ type: 'end' }));
      }, 1000 / rate);
    });
    socket.on('message', (text: string) =>
      onServerMessage(socket, text, stepToEstimate, (windowEnd) => sentAt[Math.round(windowEnd * rate) - 1]),
    );
    socket.setTimeout(() => socket.close(), (seconds + 15) * 1000);
  });
}
