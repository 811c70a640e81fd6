import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { EriError } from '../errors.js';

/**
 * `eri bench profile <file.cpuprofile>`: where a `node --cpu-prof` profile's time went, as a table.
 * Self time is charged to the nearest caller that names the work: a tfjs kernel (the WebAssembly behind
 * it has no names), else the function itself. That is how the feature-extraction profile in
 * BENCHMARKS.md was read.
 */

const callFrameSchema = z.object({ functionName: z.string(), url: z.string() });
const cpuProfileSchema = z.object({
  nodes: z.array(
    z.object({ id: z.number(), callFrame: callFrameSchema, children: z.array(z.number()).optional() }),
  ),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

export interface ProfileRow {
  name: string;
  ms: number;
  share: number;
}

const IDLE = '(idle)';

/** Callers whose name says what the WebAssembly below them computes. */
const KERNEL_SOURCE = /tf-backend-wasm/;

function label(frame: z.infer<typeof callFrameSchema>): string {
  const file = frame.url.split('/').slice(-2).join('/');
  return `${frame.functionName || '(anonymous)'}${file ? ` ${file}` : ''}`;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time the thread waited (the profile's "(idle)"): not in the rows, whose shares are of the rest. */
  idleMs: number;
  rows: ProfileRow[];
}

export function summarizeProfile(json: unknown, top = 25): ProfileSummary {
  const parsed = cpuProfileSchema.safeParse(json);
  if (!parsed.success)
    throw new EriError(
      'ERI_ERR_INVALID_ARGUMENT',
      `not a V8 CPU profile: ${parsed.error.issues[0]?.message}`,
    );
  const profile = parsed.data;
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const totals = new Map<string, number>();
  let totalUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    totalUs += us;
    let name = label(node.callFrame);
    for (let at: typeof node | undefined = node; at; at = byId.get(parent.get(at.id) ?? -1)) {
      if (KERNEL_SOURCE.test(at.callFrame.url) && at.callFrame.functionName) {
        name = `${at.callFrame.functionName} (tfjs kernel)`;
        break;
      }
    }
    totals.set(name, (totals.get(name) ?? 0) + us);
  }
  const idleUs = totals.get(IDLE) ?? 0;
  totals.delete(IDLE);
  const busyUs = totalUs - idleUs;
  const rows = [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: us / 1000, share: busyUs ? us / busyUs : 0 }));
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, rows };
}

export async function summarizeProfileFile(path: string, top?: number) {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new EriError('ERI_ERR_FILE_READ', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `${path} is not JSON`);
  }
  return summarizeProfile(json, top);
}

export function formatProfileSummary(r: ProfileSummary): string {
  const width = Math.max(20, ...r.rows.map((x) => x.name.length));
  return [
    `sampled ${r.totalMs.toFixed(0)} ms, of which ${r.idleMs.toFixed(0)} ms idle; shares are of the busy time`,
    '',
    `${'self time charged to'.padEnd(width)}  ${'ms'.padStart(8)}  ${'share'.padStart(6)}`,
    ...r.rows.map(
      (x) =>
        `${x.name.padEnd(width)}  ${x.ms.toFixed(0).padStart(8)}  ${`${(100 * x.share).toFixed(1)} %`.padStart(6)}`,
    ),
  ].join('\n');
}
