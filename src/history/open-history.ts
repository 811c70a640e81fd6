import { join } from 'node:path';
import type { HistoryStore } from './history-store.js';
import { MemoryHistory } from './memory-history.js';
import { SqliteHistory } from './sqlite-history.js';

/** The embedded node's history store, as configured (ERI_HISTORY_STORE, ERI_DATA_DIR). */
export function openLocalHistory(config: {
  historyStore: 'sqlite' | 'memory';
  dataDir: string;
  historyRetentionSeconds: number;
}): HistoryStore {
  const options = { retentionSeconds: config.historyRetentionSeconds };
  return config.historyStore === 'memory'
    ? new MemoryHistory(options)
    : SqliteHistory.open(historyDatabasePath(config.dataDir), options);
}

export function historyDatabasePath(dataDir: string): string {
  return join(dataDir, 'history.sqlite');
}
