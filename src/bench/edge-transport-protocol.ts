/** What `eri bench edge-transport` asks its page to run, and what the page answers (both sides). */

export type EdgeTransportKind = 'websocket' | 'datachannel';

export interface EdgeTransportRun {
  transport: EdgeTransportKind;
  /** The bench server's origin (http://127.0.0.1:port). */
  server: string;
  sessions: number;
  seconds: number;
  /** Bytes per message: one feature step as the edge page sends it. */
  stepBytes: number;
}

export interface EdgeTransportRunResult {
  sent: number;
}
