// Cancellation. On a cancelled run the runner sends SIGINT to the step's process, SIGTERM 7.5 s
// later, and kills the process tree 2.5 s after that. This module stops what the step started
// (docker buildx build, docker, tar and zstd under @actions/cache: every descendant of this
// process) within that time; main-impl decides what else a cancelled step does.
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export type StopSignal = 'SIGINT' | 'SIGTERM';

/** Pure: every descendant of `root` in a (pid, parent pid) table. */
export function descendantsOf(root: number, table: [number, number][]): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of table) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    if (pid === root || out.includes(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Pure: the parent pid from the text of /proc/<pid>/stat (the name in parentheses may hold anything). */
export function parentFromStat(stat: string): number | undefined {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(rest[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** (pid, parent pid) of every process: /proc on Linux, `ps` elsewhere. */
function processTable(): [number, number][] {
  const out: [number, number][] = [];
  let entries: string[] | undefined;
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    entries = undefined;
  }
  if (entries) {
    for (const e of entries) {
      try {
        const ppid = parentFromStat(readFileSync(`/proc/${e}/stat`, 'utf8'));
        if (ppid !== undefined) out.push([Number(e), ppid]);
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }
  const ps = spawnSync('ps', ['-A', '-o', 'pid=', '-o', 'ppid='], { encoding: 'utf8' });
  for (const line of (ps.stdout ?? '').split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)/.exec(line);
    if (m) out.push([Number(m[1]), Number(m[2])]);
  }
  return out;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

const tick = () => new Promise<void>((r) => setTimeout(r, 50));

/**
 * Stops every process this one started: SIGTERM (buildx cancels its build on it, and the docker
 * CLI passes it on to its plugin), then SIGKILL for whatever is left after `graceMs`. Resolves when
 * none is left, or soon after the SIGKILL.
 */
export async function stopDescendants(graceMs: number): Promise<void> {
  const first = descendantsOf(process.pid, processTable());
  signalAll(first, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let left = first;
  while (left.length && Date.now() < deadline) {
    await tick();
    left = descendantsOf(process.pid, processTable());
  }
  if (left.length) signalAll(left, 'SIGKILL');
}

/** The time the runner leaves after each signal before it escalates, less a margin. */
export function graceFor(signal: StopSignal): number {
  return signal === 'SIGINT' ? 5000 : 1500;
}

/**
 * Calls `onStop` on the first SIGINT or SIGTERM. `onStop` is expected to end the process; a second
 * signal while it runs is ignored (the runner's SIGTERM after SIGINT must not cut the clean-up short).
 */
export function onStopSignal(onStop: (signal: StopSignal) => Promise<void>): void {
  let stopping = false;
  for (const s of ['SIGINT', 'SIGTERM'] as const) {
    process.on(s, () => {
      if (stopping) return;
      stopping = true;
      void onStop(s);
    });
  }
}
