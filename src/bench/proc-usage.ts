import { readdir, readFile } from 'node:fs/promises';

/** Linux's clock ticks per second for /proc's CPU times (USER_HZ, 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

/** A process's /proc/<pid>/stat: its command name and the fields after it (state, ppid, ...); undefined once it is gone. */
async function readStat(pid: number | string): Promise<{ comm: string; fields: string[] } | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return undefined;
  // The command name may hold spaces and parentheses: the fields start after its last ')'.
  const end = stat.lastIndexOf(')');
  return { comm: stat.slice(stat.indexOf('(') + 1, end), fields: stat.slice(end + 2).split(' ') };
}

/** utime + stime of a process in seconds (Linux /proc), 0 once it is gone. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const fields = (await readStat(pid))?.fields ?? [];
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / TICKS_PER_SECOND;
}

/** A process's resident memory in MiB (Linux /proc), 0 once it is gone. */
export async function processRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/**
 * The running descendants of `root` whose command name (as /proc/<pid>/stat gives it) is `name`: the processes a
 * bench started itself, not others of the same name on a shared machine.
 */
export async function descendantsNamed(root: number, name: string): Promise<number[]> {
  const parentOf = new Map<number, number>();
  const named = new Set<number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readStat(entry);
    if (!stat) continue;
    const pid = Number(entry);
    parentOf.set(pid, Number(stat.fields[1]));
    if (stat.comm === name) named.add(pid);
  }
  const descends = (pid: number): boolean => {
    for (let p = parentOf.get(pid); p !== undefined && p > 0; p = parentOf.get(p))
      if (p === root) return true;
    return false;
  };
  return [...named].filter(descends);
}
