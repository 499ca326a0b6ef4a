// Where `gapipe consume`'s CPU goes, from a --cpu-prof profile: self time by part of the consumer
// (Kafka client, decoding, aggregation, consumer loop, Elasticsearch writes, GC, start-up), with time
// in Node's own functions (Buffer copies, string decoding) charged to the JavaScript that called them.
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bin/run.js consume --exit-idle 3s --json …
//   node bench/consumer-profile.mjs /tmp/prof [CPU µs per record, to split it by part]
import { readdirSync, readFileSync } from 'node:fs';

const path = process.argv[2];
const file = path.endsWith('.cpuprofile')
  ? path
  : `${path}/${readdirSync(path)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()
      .at(-1)}`;
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
function cat(cf) {
  const url = cf.url,
    name = cf.functionName;
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'program';
  if (url.includes('kafkajs')) return 'kafka client (kafkajs)';
  if (url.includes('/kafka/')) return 'kafka client (gapipe)';
  if (url.includes('/pipeline/transport')) return 'kafka client (gapipe)';
  if (url.includes('decode')) return 'decode';
  if (url.includes('aggregator') || url.includes('fingerprint') || url.includes('windows'))
    return 'aggregation';
  if (url.includes('consumer.js')) return 'consumer loop';
  if (url.includes('store') || url.includes('undici') || url.includes('elastic'))
    return 'Elasticsearch writes';
  if (
    url.includes('loader') ||
    url.includes('esm/') ||
    url.includes('oclif') ||
    name === 'wrapSafe' ||
    name === 'compileSourceTextModule'
  )
    return 'start-up (module loading)';
  if (url.startsWith('node:') || url === '') return null;
  return 'other';
}
const tot = new Map();
let total = 0;
const self = new Map();
for (let i = 0; i < p.samples.length; i++)
  self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
for (const [id, t] of self) {
  let cur = id,
    c = null;
  while (cur !== undefined) {
    c = cat(byId.get(cur).callFrame);
    if (c) break;
    cur = parent.get(cur);
  }
  c ??= 'node internals';
  if (c === 'idle') continue;
  total += t;
  tot.set(c, (tot.get(c) ?? 0) + t);
}
const cpuUs = Number(process.argv[3] ?? 0);
console.log(file);
for (const [c, t] of [...tot].sort((a, b) => b[1] - a[1]))
  console.log(
    `${((100 * t) / total).toFixed(1).padStart(5)}%${cpuUs ? `  ${((cpuUs * t) / total).toFixed(1).padStart(5)} µs` : ''}  ${c}`,
  );
