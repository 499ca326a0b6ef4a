/**
 * The instrument measuring itself. A load tool's numbers describe the pipeline only while the tool
 * has headroom, so each second the bench records how busy its load generator was — event-loop
 * utilisation and CPU of every thread that generates or produces — and how far the load was behind
 * its schedule. The verdict (verdict.ts) reads these figures to tell an instrument-bound run from a
 * pipeline-bound one.
 *
 * Threads report `InstrumentSample`s: the main thread is probed here; a generator worker thread (or a
 * consumer process, for the pipeline's side) runs its own `ThreadLoadProbe` and sends its samples,
 * which `InstrumentMeter.add` folds into the current second.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { InstrumentPoint, InstrumentSummary, PipelineLoadPoint, SeriesPoint } from './types.js';

/** One thread's load over one interval. */
export interface InstrumentSample {
  /** 'main', 'worker-1', 'consumer-2', … */
  thread: string;
  /** Event-loop utilisation over the interval, 0–1: the share of wall time the thread was busy. */
  elu: number;
  /** CPU time of this thread alone over the interval, ms; undefined where the platform cannot tell. */
  cpuUserMs: number | undefined;
  cpuSystemMs: number | undefined;
  intervalMs: number;
}

/** Where the schedule stood at one progress report of the load generator. */
export interface SchedulePosition {
  /** How far production was behind the schedule, ms. */
  lagMs: number;
  /** Events due and not produced yet. */
  backlog: number;
  /** Records sent and not acknowledged yet. */
  inFlight: number;
  /** True while generation waited for acknowledgements (the in-flight budget was used up). */
  atInFlightLimit: boolean;
}

/** Falling further behind the schedule than this counts as not keeping up (as the simulator judges). */
export const SCHEDULE_TOLERANCE_MS = 1000;

/** A thread is saturated from this event-loop utilisation (or this share of its usable CPU) up. */
export const SATURATION = 0.9;

type CpuTimes = { userMs: number; systemMs: number };

/** Linux's USER_HZ: /proc reports CPU time in these ticks; 100 on every mainstream kernel build. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time of the calling thread, or undefined. Node 22.19+/23.9+ have process.threadCpuUsage; on
 * Linux before that, /proc/thread-self/stat has it. The read must be synchronous: an asynchronous
 * read would run on a libuv pool thread and report that thread.
 */
export function threadCpuTimes(): CpuTimes | undefined {
  const fromNode = (process as { threadCpuUsage?: () => { user: number; system: number } }).threadCpuUsage;
  if (fromNode) {
    const usage = fromNode.call(process);
    return { userMs: usage.user / 1000, systemMs: usage.system / 1000 };
  }
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    // Fields after the command name (which may hold spaces), from field 3: utime is field 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]);
    const system = Number(fields[12]);
    if (!Number.isFinite(user) || !Number.isFinite(system)) return undefined;
    return {
      userMs: (user * 1000) / CLOCK_TICKS_PER_SECOND,
      systemMs: (system * 1000) / CLOCK_TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

type Elu = ReturnType<typeof performance.eventLoopUtilization>;

/** What a probe reads; injectable so tests can drive it. */
export interface ThreadLoadSources {
  eventLoopUtilization: (previous?: Elu) => Elu;
  cpuTimes: () => CpuTimes | undefined;
  nowMs: () => number;
}

const SYSTEM_SOURCES: ThreadLoadSources = {
  eventLoopUtilization: (previous) => performance.eventLoopUtilization(previous),
  cpuTimes: threadCpuTimes,
  nowMs: () => performance.now(),
};

/**
 * Measures the thread it runs on: each `sample()` covers the time since the previous one (or since
 * the probe was made). Works the same in the main thread and in a worker thread.
 */
export class ThreadLoadProbe {
  private lastElu: Elu;
  private lastCpu: CpuTimes | undefined;
  private lastAt: number;

  constructor(
    readonly thread: string,
    private readonly sources: ThreadLoadSources = SYSTEM_SOURCES,
  ) {
    this.lastElu = sources.eventLoopUtilization();
    this.lastCpu = sources.cpuTimes();
    this.lastAt = sources.nowMs();
  }

  sample(): InstrumentSample {
    const elu = this.sources.eventLoopUtilization(this.lastElu);
    this.lastElu = this.sources.eventLoopUtilization();
    const cpu = this.sources.cpuTimes();
    const now = this.sources.nowMs();
    const sample: InstrumentSample = {
      thread: this.thread,
      elu: clamp01(elu.utilization),
      cpuUserMs: cpu && this.lastCpu ? Math.max(0, cpu.userMs - this.lastCpu.userMs) : undefined,
      cpuSystemMs: cpu && this.lastCpu ? Math.max(0, cpu.systemMs - this.lastCpu.systemMs) : undefined,
      intervalMs: Math.max(0, now - this.lastAt),
    };
    this.lastCpu = cpu;
    this.lastAt = now;
    return sample;
  }
}

/** CPU of a sample in cores (1 = one core busy the whole interval), when known. */
export function cpuCores(sample: InstrumentSample): number | undefined {
  if (sample.cpuUserMs === undefined || sample.cpuSystemMs === undefined || !(sample.intervalMs > 0))
    return undefined;
  return (sample.cpuUserMs + sample.cpuSystemMs) / sample.intervalMs;
}

/** The whole process's CPU (every thread, the garbage collector's included) since the last call, in cores. */
export class ProcessCpuProbe {
  private last = process.cpuUsage();
  private lastAt = performance.now();

  sample(): number {
    const usage = process.cpuUsage(this.last);
    const now = performance.now();
    const interval = now - this.lastAt;
    this.last = process.cpuUsage();
    this.lastAt = now;
    return interval > 0 ? (usage.user + usage.system) / 1000 / interval : 0;
  }
}

export interface InstrumentMeterOptions {
  /** Probes the thread the meter runs on; absent when no generation happens on it. */
  mainThread?: ThreadLoadProbe;
  /** CPU of the bench process, in cores. */
  processCpu: () => number;
  /** True when the load generator shares its thread with the pipeline under test (embedded target). */
  sharedWithPipeline: boolean;
}

/**
 * Gathers the instrument's figures over each second: samples of the generator's threads, the
 * schedule positions reported by the generator, and the load of the pipeline's consumer processes
 * where they report it. `tick()` closes the second.
 */
export class InstrumentMeter {
  readonly sharedWithPipeline: boolean;
  private samples: InstrumentSample[] = [];
  private schedule: SchedulePosition[] = [];
  private lastSchedule: SchedulePosition | undefined;
  private consumers = new Map<string, InstrumentSample>();

  constructor(private readonly options: InstrumentMeterOptions) {
    this.sharedWithPipeline = options.sharedWithPipeline;
  }

  /** Starts the first second now: what the thread did before the load (setting up) is not counted. */
  start(): void {
    this.options.mainThread?.sample();
    this.options.processCpu();
    this.samples = [];
    this.schedule = [];
    this.lastSchedule = undefined;
  }

  /** A sample from a generator thread other than this one (a worker thread reporting in). */
  add(sample: InstrumentSample): void {
    this.samples.push(sample);
  }

  /** A progress report of the load generator. */
  scheduleAt(position: SchedulePosition): void {
    this.schedule.push(position);
    this.lastSchedule = position;
  }

  /** The latest load of one consumer process (the pipeline's side; lab target). */
  consumer(sample: InstrumentSample): void {
    this.consumers.set(sample.thread, sample);
  }

  /** The figures of the second that just ended; the next second starts empty. */
  tick(): { instrument: InstrumentPoint; pipeline: PipelineLoadPoint | undefined } {
    const samples = this.samples;
    if (this.options.mainThread) samples.push(this.options.mainThread.sample());
    this.samples = [];
    const threads = mergeByThread(samples);
    const busiest = threads.reduce<(typeof threads)[number] | undefined>(
      (top, t) => (top === undefined || t.elu > top.elu ? t : top),
      undefined,
    );
    const cpuKnown = threads.every((t) => t.cpuCores !== undefined);
    const positions = this.schedule.length > 0 ? this.schedule : this.lastSchedule ? [this.lastSchedule] : [];
    this.schedule = [];
    const worst = positions.reduce<SchedulePosition | undefined>(
      (top, p) => (top === undefined || p.lagMs > top.lagMs ? p : top),
      undefined,
    );
    const instrument: InstrumentPoint = {
      elu: round3(busiest?.elu ?? 0),
      ...(cpuKnown && threads.length > 0
        ? { cpuCores: round3(threads.reduce((n, t) => n + (t.cpuCores ?? 0), 0)) }
        : {}),
      processCpuCores: round3(this.options.processCpu()),
      scheduleLagMs: Math.round(worst?.lagMs ?? 0),
      backlog: worst?.backlog ?? 0,
      inFlight: positions.at(-1)?.inFlight ?? 0,
      atInFlightLimit: positions.some((p) => p.atInFlightLimit),
      threads: threads.map((t) => ({
        thread: t.thread,
        elu: round3(t.elu),
        ...(t.cpuCores === undefined ? {} : { cpuCores: round3(t.cpuCores) }),
      })),
    };
    let pipeline: PipelineLoadPoint | undefined;
    if (this.consumers.size > 0) {
      const loads = [...this.consumers.values()];
      const busiestConsumer = Math.max(...loads.map((s) => s.elu));
      const cores = loads.map(cpuCores);
      pipeline = {
        elu: round3(busiestConsumer),
        ...(cores.every((c) => c !== undefined)
          ? { cpuCores: round3(cores.reduce((n: number, c) => n + (c ?? 0), 0)) }
          : {}),
        processes: loads.length,
      };
    }
    return { instrument, pipeline };
  }
}

/** One entry per thread: the ELU and CPU over all of its samples in the second, time-weighted. */
function mergeByThread(
  samples: InstrumentSample[],
): Array<{ thread: string; elu: number; cpuCores: number | undefined }> {
  const byThread = new Map<string, InstrumentSample[]>();
  for (const s of samples) byThread.set(s.thread, [...(byThread.get(s.thread) ?? []), s]);
  return [...byThread].map(([thread, list]) => {
    const interval = list.reduce((n, s) => n + s.intervalMs, 0);
    const elu =
      interval > 0
        ? list.reduce((n, s) => n + s.elu * s.intervalMs, 0) / interval
        : Math.max(...list.map((s) => s.elu));
    const cpuKnown = list.every((s) => s.cpuUserMs !== undefined && s.cpuSystemMs !== undefined);
    const cpu =
      cpuKnown && interval > 0
        ? list.reduce((n, s) => n + (s.cpuUserMs ?? 0) + (s.cpuSystemMs ?? 0), 0) / interval
        : undefined;
    return { thread, elu: clamp01(elu), cpuCores: cpu };
  });
}

/**
 * True when a generator thread had no room left in the second: its event loop was busy at least
 * SATURATION of the time, or its threads used that share of the cores they can use.
 */
export function isSaturated(point: InstrumentPoint, generatorThreads: number, cpus: number): boolean {
  if (point.elu >= SATURATION) return true;
  const usable = Math.max(1, Math.min(generatorThreads, cpus));
  return point.cpuCores !== undefined && point.cpuCores >= SATURATION * usable;
}

export interface InstrumentSummaryInput {
  series: SeriesPoint[];
  /** The last planned second (the drain and verification after it are not load). */
  lastSecond: number;
  sharedWithPipeline: boolean;
  generatorThreads: number;
  cpus: number;
}

/** The measured seconds that carry instrument figures. */
export function measuredInstrumentPoints(
  series: SeriesPoint[],
  lastSecond: number,
): Array<SeriesPoint & { instrument: InstrumentPoint }> {
  return series.filter(
    (p): p is SeriesPoint & { instrument: InstrumentPoint } =>
      !p.warmup && p.t <= lastSecond && p.instrument !== undefined,
  );
}

/** The instrument over the measured seconds of a run. */
export function summarizeInstrument(input: InstrumentSummaryInput): InstrumentSummary {
  const points = measuredInstrumentPoints(input.series, input.lastSecond);
  const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
  const elus = points.map((p) => p.instrument.elu);
  const cpu = points.map((p) => p.instrument.cpuCores);
  const cpuKnown = cpu.length > 0 && cpu.every((c) => c !== undefined);
  let worst: (typeof points)[number] | undefined;
  for (const p of points)
    if (!worst || p.instrument.scheduleLagMs > worst.instrument.scheduleLagMs) worst = p;
  const pipelineElus = input.series
    .filter((p) => !p.warmup && p.t <= input.lastSecond && p.pipeline)
    .map((p) => p.pipeline?.elu ?? 0);
  return {
    sharedWithPipeline: input.sharedWithPipeline,
    generatorThreads: input.generatorThreads,
    cpus: input.cpus,
    measuredSeconds: points.length,
    eluMean: round3(mean(elus)),
    eluMax: round3(Math.max(0, ...elus)),
    ...(cpuKnown
      ? {
          cpuCoresMean: round3(mean(cpu as number[])),
          cpuCoresMax: round3(Math.max(...(cpu as number[]))),
        }
      : {}),
    processCpuCoresMean: round3(mean(points.map((p) => p.instrument.processCpuCores))),
    maxScheduleLagMs: worst?.instrument.scheduleLagMs ?? 0,
    maxScheduleLagAtS: worst && worst.instrument.scheduleLagMs > 0 ? worst.t : null,
    maxBacklog: Math.max(0, ...points.map((p) => p.instrument.backlog)),
    secondsBehind: points.filter((p) => p.instrument.scheduleLagMs > SCHEDULE_TOLERANCE_MS).length,
    secondsSaturated: points.filter((p) => isSaturated(p.instrument, input.generatorThreads, input.cpus))
      .length,
    ...(pipelineElus.length ? { pipelineEluMax: round3(Math.max(...pipelineElus)) } : {}),
  };
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
