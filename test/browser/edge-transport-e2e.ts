import { writeFile } from 'node:fs/promises';
import { runEdgeTransportBench } from '../../src/bench/edge-transport-bench.js';

/**
 * Run by browser.test.ts inside a network namespace with only loopback up: `eri bench edge-transport`
 * at a small scale, both transports, so the bench that chose the edge page's transport keeps working.
 *
 * argv: <result.json>
 */
const [resultPath] = process.argv.slice(2) as [string];
const result = await runEdgeTransportBench({ sessions: [3], seconds: 2 });
await writeFile(resultPath, JSON.stringify(result));
