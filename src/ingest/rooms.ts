import type { Router } from 'mediasoup/types';
import { EriError } from '../errors.js';
import type { MediaWorkerPool } from './media-workers.js';

/**
 * Rooms: one mediasoup router each, created on first join (joins that race for the same new room wait
 * for the one creation), closed when their last member leaves or when their worker dies (listeners
 * learn why).
 */

export class Room {
  readonly id: string;
  readonly router: Router;
  readonly #onClose = new Set<(error?: EriError) => void>();
  #closed = false;

  constructor(id: string, router: Router) {
    this.id = id;
    this.router = router;
    // A router closes on its own only when its worker dies (ours close through close()).
    router.observer.once('close', () => {
      this.close(
        new EriError('ERI_ERR_MEDIA_WORKER', `the media worker serving room ${id} died; rejoin to continue`),
      );
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  onClose(listener: (error?: EriError) => void): () => void {
    this.#onClose.add(listener);
    return () => this.#onClose.delete(listener);
  }

  close(error?: EriError): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.router.closed) this.router.close();
    for (const listener of [...this.#onClose]) {
      try {
        listener(error);
      } catch {
        // A listener's failure must not keep the others from hearing about the close.
      }
    }
    this.#onClose.clear();
  }
}

export interface RoomMembership {
  room: Room;
  /** Leaves the room (once); the last member to leave closes it. */
  leave(): void;
}

export class RoomManager {
  readonly #workers: MediaWorkerPool;
  readonly #rooms = new Map<string, Promise<Room>>();
  /** Members per room id, counted from the start of a join, so a room being joined is never closed. */
  readonly #members = new Map<string, number>();

  constructor(workers: MediaWorkerPool) {
    this.#workers = workers;
  }

  async get(roomId: string): Promise<Room> {
    let room = this.#rooms.get(roomId);
    if (room) {
      const existing = await room.catch(() => undefined);
      if (existing && !existing.closed) return existing;
      this.#rooms.delete(roomId);
    }
    room = this.#workers.createRouter().then((router) => {
      const r = new Room(roomId, router);
      r.onClose(() => {
        if (this.#rooms.get(roomId) === room) this.#rooms.delete(roomId);
      });
      return r;
    });
    this.#rooms.set(roomId, room);
    room.catch(() => this.#rooms.delete(roomId));
    return room;
  }

  /** Joins a room, creating it if needed: the room stays open while it has members. */
  async join(roomId: string): Promise<RoomMembership> {
    this.#members.set(roomId, (this.#members.get(roomId) ?? 0) + 1);
    let room: Room;
    try {
      room = await this.get(roomId);
    } catch (error) {
      this.#leave(roomId);
      throw error;
    }
    let left = false;
    return {
      room,
      leave: () => {
        if (left) return;
        left = true;
        this.#leave(roomId);
      },
    };
  }

  #leave(roomId: string): void {
    const members = (this.#members.get(roomId) ?? 1) - 1;
    if (members > 0) {
      this.#members.set(roomId, members);
      return;
    }
    this.#members.delete(roomId);
    this.#rooms
      .get(roomId)
      ?.then((r) => r.close())
      .catch(() => {});
  }

  /** Open rooms (each holds a mediasoup router). */
  get size(): number {
    return this.#rooms.size;
  }

  close(): void {
    for (const pending of this.#rooms.values()) pending.then((r) => r.close()).catch(() => {});
    this.#rooms.clear();
  }
}
