/**
 * The bookkeeping of the signalling protocol (/v1/signal), apart from any WebSocket: numbered requests
 * each settled by the one response with its id, and notifications passed on. The Node client (`ws`)
 * and the pages' client (the browser's WebSocket) both wrap it.
 */

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class SignalRequests {
  readonly #pending = new Map<number, Pending>();
  readonly #send: (text: string) => void;
  readonly #error: (code: string, message: string) => Error;
  #next = 1;
  onNotification: (name: string, data: unknown) => void = () => {};

  /** `send` writes one text message; `error` makes the rejection for a response with ok: false. */
  constructor(send: (text: string) => void, error: (code: string, message: string) => Error) {
    this.#send = send;
    this.#error = error;
  }

  /** One received text message: a response settles its request, a notification is passed on. */
  receive(text: string): void {
    const message = JSON.parse(text);
    if (message.notification) {
      this.onNotification(message.notification, message.data);
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(this.#error(message.error.code, message.error.message));
  }

  request<T>(method: string, params: object = {}): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#send(JSON.stringify({ id, method, params }));
    });
  }

  /** The connection is gone: every request still waiting fails with `error`. */
  failAll(error: Error): void {
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }
}
