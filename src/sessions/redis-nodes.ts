import { MAX_RECONNECT_DELAY_MS, type RedisBus } from '../bus/redis-bus.js';

/**
 * The session registry across nodes, in Redis: each node announces itself with a heartbeat key that
 * expires (`eri:node:<id>`, its URL and load), live sessions are listed in `eri:live` with their owner in
 * their metadata. Every node sweeps: a live session whose owner's heartbeat has expired is ended with
 * reason `node-lost`, once (the first node to claim it), and subscribers everywhere are told. Room
 * aggregates are computed once per room per interval by whichever node claims the room's lock.
 *
 * Redis restarts and outages: while a node cannot reach Redis its heartbeat lapses, and without
 * persistence a restart forgets every heartbeat and `eri:live`. So each node, as soon as it is connected
 * again, re-announces itself and its live sessions (owner and room included), and judges no one else
 * until every node has had the time to do the same (the expiry, the longest reconnect delay and a beat).
 */

export interface NodeLoad {
  url: string;
  sessions: number;
  maxSessions: number;
  /** 1-minute load average divided by the cores (1 = every core busy). */
  cpu: number;
}

export interface NodeInfo extends NodeLoad {
  id: string;
  at: number;
}

export interface RedisNodesOptions {
  heartbeatMs: number;
  /** A node whose heartbeat is older than this is lost. */
  ttlMs: number;
  load: () => NodeLoad;
  /** This node's live sessions, re-announced after Redis comes back. */
  liveSessions: () => { id: string; roomId: string }[];
  onLog?: (line: string) => void;
}

const LIVE = 'eri:live';
const nodeKey = (id: string) => `eri:node:${id}`;

export class RedisNodes {
  readonly #bus: RedisBus;
  readonly #o: RedisNodesOptions;
  #timer: NodeJS.Timeout | undefined;
  /** When this node's connection to Redis last became ready again (0: never lost since it started). */
  #connectedAt = 0;

  constructor(bus: RedisBus, options: RedisNodesOptions) {
    this.#bus = bus;
    this.#o = options;
    bus.client.on('ready', () => {
      this.#connectedAt = Date.now();
      this.#reannounce().catch((e: Error) => this.#o.onLog?.(`nodes: re-announcing failed: ${e.message}`));
    });
  }

  /** How long after (re)connecting this node waits before it declares other nodes lost. */
  get #graceMs(): number {
    return this.#o.ttlMs + MAX_RECONNECT_DELAY_MS + this.#o.heartbeatMs;
  }

  async #reannounce(): Promise<void> {
    await this.#beat();
    const live = this.#o.liveSessions();
    if (live.length === 0) return;
    const multi = this.#bus.client.multi();
    for (const s of live) {
      multi.sAdd(LIVE, s.id);
      multi.hSet(`eri:meta:${s.id}`, { owner: this.#bus.nodeId, roomId: s.roomId });
    }
    await multi.exec();
  }

  start(): void {
    const tick = () => {
      this.#beat()
        .then(() => this.sweep())
        .catch((e: Error) => this.#o.onLog?.(`nodes: ${e.message}`));
    };
    tick();
    this.#timer = setInterval(tick, this.#o.heartbeatMs);
  }

  async #beat(): Promise<void> {
    const info: NodeInfo = { id: this.#bus.nodeId, at: Date.now(), ...this.#o.load() };
    await this.#bus.client.set(nodeKey(this.#bus.nodeId), JSON.stringify(info), { PX: this.#o.ttlMs });
  }

  async sessionStarted(sessionId: string): Promise<void> {
    await this.#bus.client.sAdd(LIVE, sessionId).catch(() => {});
  }

  async sessionEnded(sessionId: string): Promise<void> {
    await this.#bus.client.sRem(LIVE, sessionId).catch(() => {});
  }

  /** Ends, once, the live sessions whose owner node stopped beating. */
  async sweep(): Promise<void> {
    if (Date.now() - this.#connectedAt < this.#graceMs) return;
    const client = this.#bus.client;
    for (const sessionId of await client.sMembers(LIVE)) {
      const meta = await client.hGetAll(`eri:meta:${sessionId}`);
      // Its history expired or was deleted: nothing left to end, and the set must not keep it.
      if (!meta.roomId) {
        await client.sRem(LIVE, sessionId);
        continue;
      }
      if (!meta.owner || meta.owner === this.#bus.nodeId || meta.endedAt) continue;
      if ((await client.exists(nodeKey(meta.owner))) > 0) continue;
      const claimed = await client.set(`eri:lost:${sessionId}`, this.#bus.nodeId, { NX: true, PX: 60_000 });
      if (claimed !== 'OK') continue;
      this.#o.onLog?.(`nodes: node ${meta.owner} is gone; ending its session ${sessionId} (node-lost)`);
      this.#bus.publish({
        kind: 'session.ended',
        sessionId,
        roomId: meta.roomId ?? '',
        at: new Date().toISOString(),
        reason: 'node-lost',
        error: {
          code: 'ERI_ERR_NODE_LOST',
          message: `the node ${meta.owner} running this session stopped answering`,
        },
      });
      await client.sRem(LIVE, sessionId);
    }
  }

  /** True for the one node that computes this room's aggregate in this interval. */
  async claimRoom(roomId: string, ms: number): Promise<boolean> {
    const ok = await this.#bus.client
      .set(`eri:agg:${roomId}`, this.#bus.nodeId, { NX: true, PX: Math.max(10, ms - 20) })
      .catch(() => null);
    return ok === 'OK';
  }

  async nodes(): Promise<NodeInfo[]> {
    const keys: string[] = [];
    for await (const batch of this.#bus.client.scanIterator({ MATCH: 'eri:node:*', COUNT: 100 }))
      keys.push(...(Array.isArray(batch) ? batch : [batch]));
    const values = keys.length ? await this.#bus.client.mGet(keys) : [];
    return values.filter((v): v is string => typeof v === 'string').map((v) => JSON.parse(v) as NodeInfo);
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#bus.client.del(nodeKey(this.#bus.nodeId)).catch(() => {});
  }
}
