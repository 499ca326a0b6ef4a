// Summarizes the outputs of bench/producer-compare.sh: min/median/max per producer and the ratios of
// the medians, as a Markdown table for bench/README.md and BENCHMARKS.md.
import { readdirSync, readFileSync } from 'node:fs';

const [dir, recordsText] = process.argv.slice(2);
const records = Number(recordsText);
const files = readdirSync(dir);

function timing(name) {
  const [start, end, user, system] = readFileSync(`${dir}/${name}.time`, 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number);
  return { wallSeconds: end - start, cpuSeconds: user + system };
}

/** The last line of kafka-producer-perf-test: rate and latency percentiles. */
function perfTest(name) {
  const last = readFileSync(`${dir}/${name}.out`, 'utf8').trim().split('\n').at(-1) ?? '';
  const match =
    /([\d.]+) records\/sec.*?([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/.exec(
      last,
    );
  if (!match) throw new Error(`${name}: no summary line in kafka-producer-perf-test's output: ${last}`);
  return { rate: Number(match[1]), p50: Number(match[4]), p99: Number(match[6]), p999: Number(match[7]) };
}

function gapipe(name) {
  const summary = JSON.parse(readFileSync(`${dir}/${name}.out`, 'utf8'));
  if (summary.failed > 0) console.error(`${name}: ${summary.failed} records failed`);
  return {
    rate: summary.acknowledgedRate,
    p50: summary.produceAck?.p50,
    p99: summary.produceAck?.p99,
    p999: summary.produceAck?.p999,
    keptUp: summary.keptUp,
  };
}

function kcat(name) {
  return { rate: records / timing(name).wallSeconds };
}

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: sorted[0],
    median: sorted[Math.floor((sorted.length - 1) / 2)],
    max: sorted.at(-1),
    n: sorted.length,
  };
};
const rounds = (prefix) =>
  files
    .filter((f) => f.startsWith(prefix) && f.endsWith('.time'))
    .map((f) => f.slice(0, -'.time'.length))
    .sort();
const k = (x) => `${Math.round(x / 1000)}k`;
const ms = (x) => (x === undefined ? '–' : x < 10 ? x.toFixed(1) : Math.round(x).toString());

console.log(
  `\n### Throughput: ${records.toLocaleString('en-US')} records of ~300 bytes, acks=all, unpaced\n`,
);
console.log('| producer | records/s median [min–max] | CPU µs/record median | rounds | ratio to perf-test |');
console.log('|---|---|---|---|---|');
const producers = [
  ['kafka-producer-perf-test (Java)', 'throughput-perf-test-', perfTest],
  ['kcat (librdkafka)', 'throughput-kcat-', kcat],
  ['`gapipe simulate --sink kafka --no-pace`', 'throughput-gapipe-', gapipe],
  ['`gapipe simulate --sink kafka --no-pace --workers 1`', 'throughput-gapipe1-', gapipe],
];
let reference;
for (const [label, prefix, parse] of producers) {
  const names = rounds(prefix);
  if (names.length === 0) continue;
  const rate = stats(names.map((n) => parse(n).rate));
  const cpu = stats(names.map((n) => (timing(n).cpuSeconds * 1e6) / records));
  reference ??= rate.median;
  console.log(
    `| ${label} | ${k(rate.median)} [${k(rate.min)}–${k(rate.max)}] | ${cpu.median.toFixed(1)} | ${rate.n} | ${(rate.median / reference).toFixed(2)} |`,
  );
}
const perRound = rounds('throughput-gapipe-').map((n, i) => {
  const java = rounds('throughput-perf-test-')[i];
  return java ? (gapipe(n).rate / perfTest(java).rate).toFixed(2) : '–';
});
console.log(`\ngapipe ÷ perf-test, round by round: ${perRound.join(', ')}`);

const pacedNames = rounds('latency-gapipe-');
if (pacedNames.length > 0) {
  console.log('\n### Latency, paced: produce→ack ms, median of rounds [min–max]\n');
  console.log('| producer | p50 | p99 | p99.9 | rounds |');
  console.log('|---|---|---|---|---|');
  const row = (label, results) => {
    const cell = (key) => {
      const s = stats(results.map((r) => r[key]));
      return `${ms(s.median)} [${ms(s.min)}–${ms(s.max)}]`;
    };
    console.log(`| ${label} | ${cell('p50')} | ${cell('p99')} | ${cell('p999')} | ${results.length} |`);
  };
  const java = rounds('latency-perf-test-').map(perfTest);
  const ours = pacedNames.map(gapipe);
  row('kafka-producer-perf-test --throughput', java);
  row('`gapipe simulate --rate`', ours);
  const javaP99 = stats(java.map((r) => r.p99)).median;
  const oursP99 = stats(ours.map((r) => r.p99)).median;
  console.log(`\np99 gapipe ÷ perf-test: ${(oursP99 / javaP99).toFixed(2)} (bar: at most 2)`);
  const notKept = ours.filter((r) => !r.keptUp).length;
  if (notKept > 0) console.log(`gapipe did not keep up with the schedule in ${notKept} paced round(s)`);
}
