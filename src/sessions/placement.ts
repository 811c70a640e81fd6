import { EriError } from '../errors.js';
import type { NodeInfo } from './redis-nodes.js';

/**
 * Where a new publisher should go: the least-loaded node that has room. A node has room while its
 * sessions are under its limit and its CPU (load per core) is under `maxCpu`; among those, the one with
 * the smallest share of its session limit in use wins (CPU breaks ties). None: ERI_ERR_LIMIT, "at capacity".
 */

export const MAX_CPU = 0.9;

export function placePublisher(nodes: readonly NodeInfo[], maxCpu = MAX_CPU): NodeInfo {
  const open = nodes.filter((n) => n.sessions < n.maxSessions && n.cpu < maxCpu);
  if (open.length === 0) {
    throw new EriError('ERI_ERR_LIMIT', `every node is at capacity (${nodes.length} nodes); try again later`);
  }
  return [...open].sort(
    (a, b) => a.sessions / a.maxSessions - b.sessions / b.maxSessions || a.cpu - b.cpu,
  )[0] as NodeInfo;
}
