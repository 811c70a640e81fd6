import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServeProcess, spawnEriServe } from '../src/bench/serve-process.js';
import { mediasoupWorkerBin } from '../src/ingest/media-workers.js';
import { initRandomPackage } from '../src/model/package-tools.js';
import { loadServerConfig, type ServerConfig } from '../src/server/config.js';
import { memoryLogger } from '../src/server/logger.js';
import { EriServer } from '../src/server/server.js';

/** Starts a real server on loopback (random port) with an untrained model, for tests. */

export interface TestServer {
  server: EriServer;
  url: string;
  logs: string[];
  records: Record<string, unknown>[];
  stop(): Promise<void>;
}

export function mediasoupSkip(): string | false {
  return existsSync(mediasoupWorkerBin())
    ? false
    : `no mediasoup worker at ${mediasoupWorkerBin()} (run scripts/setup.sh)`;
}

export async function startServer(overrides: Partial<Record<string, unknown>> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'eri-server-'));
  await initRandomPackage(join(dir, 'model'), { seed: 1 });
  const config: ServerConfig = loadServerConfig(
    {},
    {
      host: '127.0.0.1',
      port: 0,
      mediaWorkers: 1,
      featureWorkers: 2,
      inferenceWorkers: 1,
      dataDir: join(dir, 'data'),
      ...(overrides.jwtSecret || overrides.jwtPublicKey ? {} : { insecureDev: true }),
      ...overrides,
    },
  );
  const logs: string[] = [];
  // The server's records, kept as their messages (what tests look for) and in full.
  const records: Record<string, unknown>[] = [];
  const logger = memoryLogger((record) => {
    records.push(record);
    logs.push(String(record.msg));
  });
  const server = await EriServer.create(config, join(dir, 'model'), logger);
  const url = await server.listen();
  return {
    server,
    url,
    logs,
    records,
    stop: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `eri serve` as a child process (one worker of each kind), for tests that kill it; resolves once it listens. */
export function spawnServe(modelDir: string, env: Record<string, string>): Promise<ServeProcess> {
  return spawnEriServe(modelDir, {
    // Its own history and studies, never the working directory's (the caller may name one).
    ERI_DATA_DIR: join(modelDir, '..', 'serve-data'),
    ERI_MEDIA_WORKERS: '1',
    ERI_FEATURE_WORKERS: '1',
    ERI_INFERENCE_WORKERS: '1',
    ...env,
  });
}
