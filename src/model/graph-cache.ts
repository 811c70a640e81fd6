import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eriCacheRoot } from '../util/cache-dir.js';
import { buildGraph, GRAPH_BUILDER_VERSION, GRAPH_IDS, type GraphId } from './graphs.js';
import type { ModelWeights } from './weights.js';

/**
 * Built graphs are cached on disk under a key made of the weights' hash, the architecture and the
 * builder's version, so a server restart loads them instead of rebuilding, and a new builder or new
 * weights never reuse stale graphs.
 */

export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return eriCacheRoot(env);
}

export function graphCacheKey(weights: ModelWeights): string {
  return createHash('sha256')
    .update(`builder ${GRAPH_BUILDER_VERSION}\n${weights.sha256}\n${JSON.stringify(weights.architecture)}`)
    .digest('hex')
    .slice(0, 24);
}

export type GraphPaths = Record<GraphId, string>;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile() && s.size > 0,
    () => false,
  );
}

/** Writes every graph into `dir` (atomically, file by file) and returns their paths. */
export async function writeGraphs(
  weights: ModelWeights,
  dir: string,
  options: { reuse?: boolean } = {},
): Promise<GraphPaths> {
  await mkdir(dir, { recursive: true });
  const paths = {} as GraphPaths;
  for (const id of GRAPH_IDS) {
    const path = join(dir, `${id}.onnx`);
    if (!(options.reuse && (await exists(path)))) {
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, buildGraph(weights, id));
      await rename(tmp, path);
    }
    paths[id] = path;
  }
  return paths;
}

/** The cached graphs for these weights, built on first use. */
export async function cachedGraphs(
  weights: ModelWeights,
  cacheRoot = defaultCacheRoot(),
): Promise<GraphPaths> {
  return writeGraphs(weights, join(cacheRoot, 'onnx', graphCacheKey(weights)), { reuse: true });
}

export async function readGraphs(paths: GraphPaths): Promise<Record<GraphId, Uint8Array>> {
  const out = {} as Record<GraphId, Uint8Array>;
  for (const id of GRAPH_IDS) out[id] = await readFile(paths[id]);
  return out;
}
