import { Device } from 'mediasoup-client';
import { Signal } from '../client/webrtc-publisher.js';
import type { EdgeTransportRun, EdgeTransportRunResult } from './edge-transport-protocol.js';

/**
 * The browser side of `eri bench edge-transport` (bundled to dist/bench-public/): N simulated edge
 * publishers in one page, each sending a feature step's worth of bytes every 100 ms, over its own
 * WebSocket or its own mediasoup DataChannel (a WebRTC transport with SCTP, one data producer). Each
 * message starts with the send time (performance.timeOrigin + now(), float64) so the server can time
 * the one-way trip on the same clock.
 */

const STEP_MS = 100;

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('open', () => resolve(ws), { once: true });
    ws.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)), { once: true });
  });
}

/** A send function per session: its own WebSocket. */
async function webSocketSender(run: EdgeTransportRun, session: number): Promise<(bytes: Uint8Array) => void> {
  const ws = await openSocket(`${run.server.replace(/^http/, 'ws')}/steps?session=${session}`);
  return (bytes) => ws.send(bytes);
}

/** A send function per session: a DataChannel to the server's mediasoup router. */
async function dataChannelSender(
  run: EdgeTransportRun,
  session: number,
): Promise<(bytes: Uint8Array) => void> {
  // The pages' own signalling client, against the bench's minimal signalling (same request shapes).
  const requests = await Signal.open(`${run.server.replace(/^http/, 'ws')}/signal?session=${session}`);
  const device = new Device();
  await device.load({ routerRtpCapabilities: await requests.request('capabilities', {}) });
  const info = await requests.request<Parameters<Device['createSendTransport']>[0]>('createTransport', {});
  const transport = device.createSendTransport(info);
  transport.on('connect', ({ dtlsParameters }, done, fail) => {
    requests.request('connect', { dtlsParameters }).then(() => done(), fail);
  });
  transport.on('producedata', ({ sctpStreamParameters, label, protocol }, done, fail) => {
    requests
      .request<{ id: string }>('produceData', { sctpStreamParameters, label, protocol })
      .then(({ id }) => done({ id }), fail);
  });
  // Ordered and reliable, as a WebSocket is: a feature step is never dropped or reordered.
  const producer = await transport.produceData({ ordered: true, label: 'steps' });
  if (producer.readyState !== 'open') {
    await new Promise<void>((resolve, reject) => {
      producer.on('open', () => resolve());
      producer.on('error', (e) => reject(e));
    });
  }
  return (bytes) => producer.send(bytes as unknown as ArrayBuffer);
}

async function runBench(run: EdgeTransportRun): Promise<EdgeTransportRunResult> {
  // An edge page holds the camera: with that permission Chromium offers its host addresses as ICE
  // candidates (without it, only mDNS names, and where loopback is all there is, no connection).
  for (const track of (await navigator.mediaDevices.getUserMedia({ video: true })).getTracks()) track.stop();
  const open = run.transport === 'websocket' ? webSocketSender : dataChannelSender;
  const senders = await Promise.all(Array.from({ length: run.sessions }, (_, i) => open(run, i)));
  const sent = new Array<number>(run.sessions).fill(0);
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let finished = 0;
    senders.forEach((send, i) => {
      const bytes = new Uint8Array(run.stepBytes);
      const view = new DataView(bytes.buffer);
      // Viewers join at independent moments: each session's first step at its own phase in 100 ms.
      setTimeout(
        () => {
          const timer = setInterval(() => {
            if (performance.now() - started >= run.seconds * 1000) {
              clearInterval(timer);
              if (++finished === senders.length) resolve();
              return;
            }
            view.setFloat64(0, performance.timeOrigin + performance.now(), true);
            view.setUint32(8, sent[i] as number, true);
            send(bytes);
            sent[i] = (sent[i] as number) + 1;
          }, STEP_MS);
        },
        (i * STEP_MS) / senders.length,
      );
    });
  });
  return { sent: sent.reduce((a, b) => a + b, 0) };
}

(globalThis as unknown as { runEdgeTransportBench: typeof runBench }).runEdgeTransportBench = runBench;
