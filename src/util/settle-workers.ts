import type { Piscina } from 'piscina';

/**
 * Lets every worker finish loading its module before the pool is destroyed: terminating a thread while
 * it is still loading onnxruntime's native binding aborts the whole process (Napi::Error in teardown).
 * A trivial task per worker runs only once its module is loaded.
 */
export async function settleWorkers<T>(pool: Piscina<T, unknown>, workers: number, task: T): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(Array.from({ length: workers }, () => pool.run(task))),
    new Promise((r) => {
      timer = setTimeout(r, 10_000);
    }),
  ]);
  clearTimeout(timer);
}
