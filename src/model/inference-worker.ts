import { EriError, isEriError } from '../errors.js';
import { LocalEngine } from './engine.js';
import type { InferenceTask, WorkerReply } from './pooled-engine.js';

/**
 * Worker-thread side of PooledEngine: one LocalEngine per model key, created on the first task for it and
 * kept for the worker's life. Errors come back as values, so their codes survive the thread boundary.
 */

const engines = new Map<string, Promise<LocalEngine>>();

function engineFor(task: InferenceTask): Promise<LocalEngine> {
  let engine = engines.get(task.model.key);
  if (!engine) {
    engine = LocalEngine.create(task.model.architecture, task.model.graphs, {
      intraOpThreads: task.model.intraOpThreads,
    });
    engine.catch(() => engines.delete(task.model.key));
    engines.set(task.model.key, engine);
  }
  return engine;
}

export default async function run(task: InferenceTask): Promise<WorkerReply> {
  if (task.op === 'ping') return { ok: true, value: null };
  try {
    const engine = await engineFor(task);
    switch (task.op) {
      case 'gruStep':
        return { ok: true, value: await engine.gruStep(task.req) };
      case 'gruSequence':
        return { ok: true, value: await engine.gruSequence(task.req) };
      case 'encode':
        return { ok: true, value: await engine.encode(task.req) };
      case 'head':
        return { ok: true, value: await engine.head(task.req) };
    }
  } catch (error) {
    const e = isEriError(error) ? error : new EriError('ERI_ERR_INFERENCE', (error as Error).message);
    return { ok: false, code: e.code, message: e.message };
  }
}
