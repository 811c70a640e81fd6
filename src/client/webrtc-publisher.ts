import { Device } from 'mediasoup-client';
import type { Transport } from 'mediasoup-client/types';

/**
 * Browser side of publishing (bundled into the publisher and viewer pages): the signalling connection
 * (request/response by id, notifications) and sending a camera/microphone stream over WebRTC with
 * mediasoup-client.
 */

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class Signal {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  onNotification: (name: string, data: unknown) => void = () => {};

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data));
      if (message.notification) {
        this.onNotification(message.notification, message.data);
        return;
      }
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new Error(`${message.error.code}: ${message.error.message}`));
    });
    ws.addEventListener('close', () => {
      for (const p of this.#pending.values()) p.reject(new Error('connection closed'));
      this.#pending.clear();
    });
  }

  static open(url: string): Promise<Signal> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.addEventListener('open', () => resolve(new Signal(ws)), { once: true });
      ws.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)), { once: true });
    });
  }

  request<T>(method: string, params: object = {}): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
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
