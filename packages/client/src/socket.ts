import { EriClientError } from './errors.js';

/**
 * The WebSocket the clients run on: the browser's (or Node 22's) global one, `ws` on Node 20 (an
 * optional peer dependency, loaded only there), or one the application passes. Only this small surface
 * is used, which both implement.
 */

export interface SocketMessageEvent {
  data: unknown;
}

export interface SocketCloseEvent {
  code: number;
  reason: string;
}

export interface WebSocketLike {
  readonly readyState: number;
  binaryType?: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: SocketMessageEvent) => void) | null;
  onclose: ((event: SocketCloseEvent) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export const OPEN = 1;

/** A bearer token, or a function that returns a fresh one: called before every (re)connect. */
export type TokenSource = string | (() => string | Promise<string>);

export async function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  try {
    // Node 20 has no global WebSocket: `ws`, when the application installed it.
    const ws = (await import('ws')) as unknown as { default: WebSocketConstructor };
    return ws.default;
  } catch {
    throw new EriClientError(
      'ERI_ERR_CONNECTION',
      'no WebSocket implementation: run on Node 22+ or a browser, install the `ws` package, or pass options.WebSocket',
    );
  }
}

/**
 * The WebSocket URL of an endpoint from a server's http(s) or ws(s) base URL, with the token as the
 * `access_token` query parameter (a browser cannot set an Authorization header on a WebSocket).
 */
export function endpointUrl(base: string, path: string, token?: string): string {
  const url = `${base.replace(/^http/, 'ws').replace(/\/$/, '')}${path}`;
  return token ? `${url}?access_token=${encodeURIComponent(token)}` : url;
}

export async function tokenOf(source: TokenSource | undefined): Promise<string | undefined> {
  if (source === undefined) return undefined;
  return typeof source === 'function' ? await source() : source;
}

/** Text of a message event: a string from the browser and `ws`, bytes from some polyfills. */
export function textOf(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data))
    return new TextDecoder().decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return String(data);
}
