// Summarizes the outputs of bench/consumer-compare.sh: records/s and CPU µs per record, min/median/max
// per consumer, and each consumer's ratio to the first gapipe client per round, as a Markdown table.
import { readdirSync, readFileSync } from 'node:fs';

const [dir] = process.argv.slice(2);
const records = Number(readFileSync(`${dir}/records`, 'utf8'));
const files = readdirSync(dir);
/** --exit-idle: how long gapipe consume waits, caught up, before it stops. */
const IDLE_SECONDS = 3;

function timing(name) {
  const [start, end, user, system] = readFileSync(`${dir}/${name}.time`, 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number);
  return { wallSeconds: end - start, cpuSeconds: user + system };
}

function gapipe(name) {
  const summary = JSON.parse(readFileSync(`${dir}/${name}.out`, 'utf8'));
  if (summary.consumed !== records) console.error(`${name}: consumed ${summary.consumed} of ${records}`);
  const { cpuSeconds } = timing(name);
  return {
    rate: summary.consumed / (summary.elapsedMs / 1000 - IDLE_SECONDS),
    cpuUs: (cpuSeconds * 1e6) / summary.consumed,
  };
}

/** kafka-consumer-perf-test's CSV line: …, data.consumed.in.nMsg, nMsg.sec, rebalance ms, fetch ms, … */
function perfTest(name) {
  const line = readFileSync(`${dir}/${name}.out`, 'utf8')
    .trim()
    .split('\n')
    .find((l) => /^\d{4}-/.test(l));
  if (!line) throw new Error(`${name}: no result line in kafka-consumer-perf-test's output`);
  const fields = line.split(',').map((f) => f.trim());
  const consumed = Number(fields[4]);
  const fetchMs = Number(fields[7]);
  return { rate: consumed / (fetchMs / 1000), cpuUs: (timing(name).cpuSeconds * 1e6) / consumed };
}

function kcat(name) {
  const consumed = readFileSync(`${dir}/${name}.out`, 'utf8').split('\n').filter(Boolean).length;
  const { wallSeconds, cpuSeconds } = timing(name);
  return { rate: consumed / wallSeconds, cpuUs: (cpuSeconds * 1e6) / consumed };
}

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor((sorted.length - 1) / 2)], max: sorted.at(-1) };
};
const runs = (prefix) =>
  files
    .filter((f) => f.startsWith(prefix) && /-\d+\.time$/.test(f))
    .map((f) => f.slice(0, -'.time'.length))
    .sort((a, b) => Number(a.split('-').at(-1)) - Number(b.split('-').at(-1)));
const k = (x) => `${(x / 1000).toFixed(x < 100_000 ? 1 : 0)}k`;
const us = (x) => x.toFixed(1);

const consumers = [];
const clientPrefixes = [
  ...new Set(files.filter((f) => /^gapipe-.*-\d+\.time$/.test(f)).map((f) => f.replace(/-\d+\.time$/, ''))),
];
for (const prefix of clientPrefixes.sort()) {
  consumers.push({
    label: `gapipe consume --kafka-client ${prefix.slice('gapipe-'.length)}`,
    rounds: runs(`${prefix}-`).map(gapipe),
  });
}
if (files.some((f) => f.startsWith('before-'))) {
  consumers.push({ label: 'gapipe consume, BEFORE tree', rounds: runs('before-').map(gapipe) });
}
if (files.some((f) => f.startsWith('perf-test-'))) {
  consumers.push({
    label: 'kafka-consumer-perf-test (reads only)',
    rounds: runs('perf-test-').map(perfTest),
  });
}
if (files.some((f) => f.startsWith('kcat-'))) {
  consumers.push({ label: 'kcat -C (reads only)', rounds: runs('kcat-').map(kcat) });
}

console.log(`${records.toLocaleString('en')} records, ${consumers[0]?.rounds.length ?? 0} rounds\n`);
console.log('| consumer | records/s min / median / max | CPU µs/record min / median / max |');
console.log('|---|---|---|');
for (const { label, rounds } of consumers) {
  const rate = stats(rounds.map((r) => r.rate));
  const cpu = stats(rounds.map((r) => r.cpuUs));
  console.log(
    `| ${label} | ${k(rate.min)} / ${k(rate.median)} / ${k(rate.max)} | ${us(cpu.min)} / ${us(cpu.median)} / ${us(cpu.max)} |`,
  );
}
const [first, ...others] = consumers;
if (first) {
  console.log(`\nPer round, ratio to ${first.label} (records/s; CPU per record):`);
  for (const other of others) {
    const rates = other.rounds.map((r, i) => (r.rate / (first.rounds[i]?.rate ?? Number.NaN)).toFixed(2));
    const cpus = other.rounds.map((r, i) => (r.cpuUs / (first.rounds[i]?.cpuUs ?? Number.NaN)).toFixed(2));
    console.log(`- ${other.label}: ${rates.join(', ')}; ${cpus.join(', ')}`);
  }
}
