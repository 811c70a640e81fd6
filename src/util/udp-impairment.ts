import { createSocket, type Socket } from 'node:dgram';
import { SeededRandom } from '../model/init.js';

/**
 * A UDP relay that impairs what it forwards, for fault tests without `tc netem` (whose kernel module is
 * not on every machine): each datagram is dropped with probability `loss`, else sent on after
 * `delayMs` plus a uniform jitter in [0, jitterMs), so packets also arrive reordered, as on a bad network.
 * Everything leaves from one socket, so the receiver sees one stable source address.
 */

export interface ImpairmentOptions {
  loss: number;
  jitterMs: number;
  delayMs?: number;
  seed?: number;
}

export class UdpImpairment {
  readonly stats = { received: 0, dropped: 0, forwarded: 0 };
  readonly #socket: Socket;
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Listens on 127.0.0.1 (a free port) and relays to `target`. */
  static async create(target: { ip: string; port: number }, o: ImpairmentOptions): Promise<UdpImpairment> {
    const socket = createSocket('udp4');
    const relay = new UdpImpairment(socket);
    const random = new SeededRandom(o.seed ?? 1);
    socket.on('message', (packet) => {
      relay.stats.received++;
      if (random.uniform(0, 1) < o.loss) {
        relay.stats.dropped++;
        return;
      }
      const timer = setTimeout(
        () => {
          relay.#timers.delete(timer);
          relay.stats.forwarded++;
          socket.send(packet, target.port, target.ip);
        },
        (o.delayMs ?? 0) + random.uniform(0, o.jitterMs),
      );
      relay.#timers.add(timer);
    });
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#socket.close();
  }
}
