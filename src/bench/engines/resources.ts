/**
 * CPU and memory of an engine's processes, read from /proc: the given root processes and all their
 * descendants (spark-submit's JVM and its Python workers; gapipe's consumer processes). Sampled once
 * a second by the bench; on a system without /proc the figures are absent, never made up.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime/stime (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;
/** Used only where /proc/<pid>/status has no VmRSS: the common page size. */
const PAGE_BYTES = 4096;

interface ProcStat {
  pid: number;
  ppid: number;
  ticks: number;
  rssBytes: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      pid,
      ppid: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
      rssBytes: Number(fields[21]) * PAGE_BYTES,
    };
  } catch {
    return undefined;
  }
}

/**
 * Resident memory in bytes, from /proc/<pid>/status (kB): stat's rss counts pages, and pages are 16 or
 * 64 KiB on some arm64 kernels.
 */
function readRssBytes(pid: number, fallback: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : fallback;
  } catch {
    return fallback;
  }
}

/** The roots and every process below them, as they are now (each once, however the roots overlap). */
export function processTree(roots: readonly number[]): ProcStat[] {
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
  const stats = pids.map(readStat).filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const out: ProcStat[] = [];
  const seen = new Set<number>();
  const queue = stats.filter((s) => roots.includes(s.pid));
  while (queue.length > 0) {
    const s = queue.shift() as ProcStat;
    // A root below another root would otherwise be counted twice.
    if (seen.has(s.pid)) continue;
    seen.add(s.pid);
    out.push({ ...s, rssBytes: readRssBytes(s.pid, s.rssBytes) });
    queue.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

export interface EngineResources {
  /** Mean CPU over the measured seconds, in cores. */
  cpuCoresMean: number;
  cpuCoresMax: number;
  /** Largest resident memory of all its processes together. */
  rssMaxBytes: number;
  processes: number;
  /** How the figures were taken. */
  method: string;
}

/** Samples the CPU and memory of an engine's process trees; `sample()` once a second. */
export class EngineResourceProbe {
  /** CPU ticks of processes seen so far (a process that exits keeps its last count). */
  private readonly ticks = new Map<number, number>();
  private lastTotal: number | undefined;
  private lastAtMs: number | undefined;
  private measuring = false;
  private readonly cores: number[] = [];
  private rssMax = 0;
  private processesMax = 0;

  constructor(
    private readonly roots: () => readonly number[],
    private readonly now: () => number = Date.now,
  ) {}

  /** From now on samples count toward the summary (the warm-up is over). */
  measure(): void {
    this.measuring = true;
  }

  /** This moment's figures (cpuCores undefined on the first sample); undefined when no process is left. */
  sample(): { cpuCores: number | undefined; rssBytes: number } | undefined {
    const tree = processTree(this.roots());
    if (tree.length === 0) return undefined;
    for (const p of tree) this.ticks.set(p.pid, Math.max(this.ticks.get(p.pid) ?? 0, p.ticks));
    const total = [...this.ticks.values()].reduce((a, b) => a + b, 0);
    const at = this.now();
    const rss = tree.reduce((n, p) => n + p.rssBytes, 0);
    // CPU is a rate: the first sample (or one in the same millisecond) has no interval to divide by,
    // and counting it as 0 cores would pull the mean down (with --warmup 0s it is a measured one).
    const cpuCores =
      this.lastTotal !== undefined && this.lastAtMs !== undefined && at > this.lastAtMs
        ? (total - this.lastTotal) / TICKS_PER_SECOND / ((at - this.lastAtMs) / 1000)
        : undefined;
    this.lastTotal = total;
    this.lastAtMs = at;
    if (this.measuring) {
      if (cpuCores !== undefined) this.cores.push(cpuCores);
      this.rssMax = Math.max(this.rssMax, rss);
      this.processesMax = Math.max(this.processesMax, tree.length);
    }
    return { cpuCores, rssBytes: rss };
  }

  /** The measured figures; undefined until at least one measured interval between two samples. */
  summary(): EngineResources | undefined {
    if (this.cores.length === 0) return undefined;
    return {
      cpuCoresMean: round(this.cores.reduce((a, b) => a + b, 0) / this.cores.length),
      cpuCoresMax: round(Math.max(...this.cores)),
      rssMaxBytes: this.rssMax,
      processes: this.processesMax,
      method: "the engine's processes and their children, read from /proc once a second while measured",
    };
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;
