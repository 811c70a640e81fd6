import { Device } from 'mediasoup-client';
import type { Transport } from 'mediasoup-client/types';
import { refusalOf } from '../contracts/ws-close.js';
import { SignalRequests } from './signal-requests.js';

/**
 * Browser side of publishing (bundled into the publisher and viewer pages): the signalling connection
 * (request/response by id, notifications) and sending a camera/microphone stream over WebRTC with
 * mediasoup-client.
 */

/** The signalling connection of a page (the browser's WebSocket around the shared request logic). */
export class Signal {
  readonly #ws: WebSocket;
  readonly #requests: SignalRequests;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.#requests = new SignalRequests(
      (text) => ws.send(text),
      (code, message) => new Error(`${code}: ${message}`),
    );
    ws.addEventListener('message', (event) => this.#requests.receive(String(event.data)));
    ws.addEventListener('close', (event) => {
      const refusal = refusalOf(event.code, event.reason);
      this.#requests.failAll(
        new Error(refusal ? `${refusal.code}: ${refusal.message}` : 'connection closed'),
      );
    });
  }

  set onNotification(handler: (name: string, data: unknown) => void) {
    this.#requests.onNotification = handler;
  }

  static open(url: string): Promise<Signal> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.addEventListener('open', () => resolve(new Signal(ws)), { once: true });
      ws.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)), { once: true });
    });
  }

  request<T>(method: string, params: object = {}): Promise<T> {
    return this.#requests.request<T>(method, params);
  }

  close(): void {
    this.#ws.close();
  }
}

/** Sends every track of `stream` on a new send transport; `onState` hears the connection's states. */
export async function sendStream(
  signal: Signal,
  routerRtpCapabilities: unknown,
  stream: MediaStream,
  onState: (state: string) => void,
): Promise<Transport> {
  const device = new Device();
  await device.load({ routerRtpCapabilities: routerRtpCapabilities as never });
  const info = await signal.request<{
    id: string;
    iceParameters: never;
    iceCandidates: never;
    dtlsParameters: never;
  }>('createWebRtcTransport');
  const transport: Transport = device.createSendTransport(info);
  transport.on('connect', ({ dtlsParameters }, done, fail) => {
    signal
      .request('connectWebRtcTransport', { transportId: transport.id, dtlsParameters })
      .then(() => done(), fail);
  });
  transport.on('produce', ({ kind, rtpParameters }, done, fail) => {
    signal
      .request<{ producerId: string }>('produce', { transportId: transport.id, kind, rtpParameters })
      .then(({ producerId }) => done({ id: producerId }), fail);
  });
  transport.on('connectionstatechange', onState);
  for (const track of stream.getTracks()) await transport.produce({ track });
  return transport;
}
