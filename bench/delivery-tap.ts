/**
 * The delivery tap's cost (src/bench/delivery-tap.ts): it runs in the bench process beside the load
 * generator, so what it takes per record is what the generator loses. Reads an existing topic's
 * backlog from the beginning, each round in a new group, and prints records/s and the process's CPU
 * (user + system) per record between the moment the tap owns its partitions and the last record:
 *
 * - `tap + histogram`: the tap as the bench runs it, its callback LatencyTaps.recordMany('delivery').
 * - `tap alone`: the same with a callback that only sums the counts.
 * - `kcat`: the reference, librdkafka's consumer reading the same backlog (`kcat -C -e`, each offset
 *   printed to a file), its CPU from the shell's `time`; skipped with --no-reference.
 *
 * Rounds are interleaved, so other work on the machine falls on each alike; min/median/max.
 *
 *   node bin/run.js simulate --sink kafka --no-pace --events 1000000 --topic tap-backlog --brokers B
 *   node --import tsx bench/delivery-tap.ts --brokers B --topic tap-backlog [--rounds 3] [--no-reference]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { DeliveryTap } from '../src/bench/delivery-tap.js';
import { LatencyTaps } from '../src/bench/taps.js';
import { runProcess } from './lib/process.js';

const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: '127.0.0.1:9092' },
    topic: { type: 'string', default: 'tap-backlog' },
    rounds: { type: 'string', default: '3' },
    'no-reference': { type: 'boolean', default: false },
    /** Per-partition fetch sizes to compare, KiB (the tap's default first). */
    'partition-kib': { type: 'string' },
  },
});
const brokers = (values.brokers as string).split(',');
const topic = values.topic as string;
const rounds = Number(values.rounds);

interface Measurement {
  records: number;
  recordsPerSecond: number;
  cpuUsPerRecord: number;
}

async function endOffsets(): Promise<Map<number, number>> {
  const admin = new Kafka({ clientId: 'gapipe-bench', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

async function tapRound(total: number, withHistogram: boolean, partitionKib?: number): Promise<Measurement> {
  const taps = new LatencyTaps(['delivery']);
  taps.measureFromMs = 0;
  let timed = 0;
  const tap = new DeliveryTap(
    {
      brokers,
      topic,
      group: `bench-tap-${randomBytes(4).toString('hex')}`,
      ...(partitionKib ? { tuning: { partitionMaxBytes: partitionKib * 1024 } } : {}),
    },
    withHistogram
      ? (intended, count, now) => taps.recordMany('delivery', intended, count, now)
      : (_intended, count) => {
          timed += count;
        },
  );
  await tap.start();
  const startedAt = performance.now();
  const cpuBefore = process.cpuUsage();
  const before = tap.read().consumed;
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (tap.error) {
        clearInterval(timer);
        reject(tap.error);
      } else if (tap.read().consumed >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  const cpu = process.cpuUsage(cpuBefore);
  const elapsedMs = performance.now() - startedAt;
  const reading = tap.read();
  await tap.stop();
  if (reading.untimed > 0) console.warn(`  ${reading.untimed} records had no intended time`);
  if (!withHistogram && timed !== reading.consumed - reading.untimed) throw new Error('counts disagree');
  const records = reading.consumed - before;
  return {
    records,
    recordsPerSecond: records / (elapsedMs / 1000),
    cpuUsPerRecord: (cpu.user + cpu.system) / records,
  };
}

async function kcatRound(total: number): Promise<Measurement> {
  const script = `TIMEFORMAT='%R %U %S'; time (kcat -C -q -e -o beginning -b ${brokers.join(',')} -t ${topic} -f '%o\\n' > /tmp/delivery-tap-kcat.out) && wc -l < /tmp/delivery-tap-kcat.out`;
  const { code, stdout, stderr } = await runProcess('bash', ['-c', script]);
  const times = /([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
  const records = Number(stdout.trim());
  if (code !== 0 || !times || records !== total) {
    throw new Error(`kcat failed (exit ${code}, ${records} of ${total} records): ${stderr}`);
  }
  const [real, user, system] = times.slice(1).map(Number) as [number, number, number];
  // The whole process, start-up and metadata included (a few ms at a million records).
  return {
    records,
    recordsPerSecond: records / real,
    cpuUsPerRecord: ((user + system) * 1e6) / records,
  };
}

function summary(name: string, list: Measurement[]): string {
  const stat = (pick: (m: Measurement) => number, digits: number) => {
    const sorted = list.map(pick).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    const f = (v: number) =>
      v.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
    return `${f(sorted[0] as number)} / ${f(median)} / ${f(sorted.at(-1) as number)}`;
  };
  return `| ${name} | ${stat((m) => m.recordsPerSecond, 0)} | ${stat((m) => m.cpuUsPerRecord, 2)} |`;
}

const ends = await endOffsets();
const total = [...ends.values()].reduce((a, b) => a + b, 0);
console.log(`${topic}: ${total.toLocaleString('en')} records in ${ends.size} partitions`);
interface Variant {
  name: string;
  run(): Promise<Measurement>;
}
const variants: Variant[] = [
  { name: 'tap + histogram', run: () => tapRound(total, true) },
  { name: 'tap alone', run: () => tapRound(total, false) },
  ...(values['partition-kib'] ?? '')
    .split(',')
    .filter((kib) => kib !== '')
    .map((kib) => ({
      name: `tap + histogram, ${kib} KiB per partition fetch`,
      run: () => tapRound(total, true, Number(kib)),
    })),
  ...(values['no-reference'] ? [] : [{ name: 'kcat', run: () => kcatRound(total) }]),
];
const results = new Map<string, Measurement[]>(variants.map((v) => [v.name, []]));
for (let round = 0; round < rounds; round++) {
  const line: string[] = [];
  for (const variant of variants) {
    const measurement = await variant.run();
    results.get(variant.name)?.push(measurement);
    line.push(`${variant.name} ${measurement.cpuUsPerRecord.toFixed(2)}`);
  }
  console.log(`round ${round + 1} (CPU µs/record): ${line.join(', ')}`);
}
console.log('\n| reader | records/s min / median / max | CPU µs/record min / median / max |\n|---|---|---|');
for (const [name, list] of results) console.log(summary(name, list));
