/**
 * Results as an engine gapipe reads from outside records them (spark, external): the engine's fields
 * as run.ts writes them, no sink latency, and nothing of what only gapipe's own consumers count
 * (documents written, late, dead-lettered, duplicates, their process load).
 */
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { EngineResources } from '../../../src/bench/engines/resources.js';
import { emptySummary } from '../../../src/bench/histograms.js';
import type { BenchResult, EngineSummary } from '../../../src/bench/types.js';
import { newLatencyHistogram } from '../fixtures.js';

/** How a lab run's figures are measured for an engine gapipe reads from outside. */
export const OUTSIDE_MEASURED_BY: EngineSummary['measuredBy'] = {
  'produce-ack': "gapipe's producer: from the intended send time to the broker's acknowledgement",
  delivery:
    "a tap consumer in its own group (gapipe-bench-1a2b-tap): from the intended send time to the record's arrival there",
  visible:
    "polling Elasticsearch every 250 ms for each (window, region, event_type) cell: from the intended send time to the first poll whose count covers the record's rank in its cell",
  consumed: "records the engine's documents count (each cell's events against each sent record's rank in it)",
  lag: "records sent and not yet counted in the engine's documents",
};

/** Figures as the Spark job's processes gave them on a small machine. */
export const SPARK_RESOURCES: EngineResources = {
  cpuCoresMean: 1.374,
  cpuCoresMax: 1.962,
  rssMaxBytes: 1.5 * 1024 ** 3,
  processes: 4,
  method: "the engine's processes and their children, read from /proc once a second while measured",
};

/**
 * `result` as if `name` had been benched on a lab: its series and latencies stay (a real run's, say),
 * its engine fields and what that engine cannot have are changed.
 */
export function asOutsideEngine(
  result: BenchResult,
  name: 'spark' | 'external',
  resources?: EngineResources,
): BenchResult {
  const r = structuredClone(result);
  r.config.engine = name;
  if (r.config.target === 'embedded') {
    r.config.target = 'lab';
    r.config.brokers = '127.0.0.1:19092';
    r.config.esUrl = 'http://127.0.0.1:19200';
    r.summary.instrument.sharedWithPipeline = false;
  }
  const empty = newLatencyHistogram();
  r.histograms.sink = encodeIntoCompressedBase64(empty);
  empty.destroy();
  r.summary.latency.sink = emptySummary();
  r.summary.throughput.written = 0;
  Object.assign(r.summary.totals, { written: 0, late: 0, deadLettered: 0, duplicates: 0 });
  r.series = r.series.map(({ pipeline: _pipeline, ...point }) => ({ ...point, written: 0 }));
  r.summary.engine = {
    name,
    description: name === 'spark' ? 'the Spark job on local[2]' : 'your engine',
    ...(resources ? { resources } : {}),
    measuredBy: OUTSIDE_MEASURED_BY,
  };
  return r;
}
