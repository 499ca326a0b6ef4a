/**
 * The values every command shares, parsed one way: Kafka broker lists, Elasticsearch URLs and
 * durations. Commands and services call these; a flag that means the same thing in two commands can
 * never be read two ways (`[::1]:9092` valid in one, `kafka:99999` in the other).
 */
import { invalidFlag } from './errors.js';

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds in "10ms", "1.5s", "2m", "1h30m"; undefined if `text` is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = DURATION_PART.exec(trimmed); match; match = DURATION_PART.exec(trimmed)) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    consumed = DURATION_PART.lastIndex;
  }
  return consumed === trimmed.length ? total : undefined;
}

/**
 * A duration flag in ms, at least `minMs`; `label` names the flag ("--flush-interval") in the error,
 * with an example of the form.
 */
export function parseDurationFlag(label: string, text: string, minMs = 0, example = '500ms or 10s'): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < minMs) {
    const least = minMs > 0 ? `, at least ${formatMs(minMs)}` : '';
    throw invalidFlag(`${label} must be a duration like ${example}${least}, got '${text}'`);
  }
  return ms;
}

const BROKER = /^([A-Za-z0-9_.-]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/;

/** "host:port[,host:port…]", hosts by name, IPv4 or [IPv6]; ports 1–65535. */
export function parseBrokers(text: string, label = '--brokers'): string[] {
  const brokers = text
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const valid = (broker: string) => {
    const match = BROKER.exec(broker);
    const port = match ? Number(match[2]) : 0;
    return port >= 1 && port <= 65535;
  };
  if (brokers.length === 0 || !brokers.every(valid)) {
    throw invalidFlag(
      `${label} must be a comma-separated list of host:port like 127.0.0.1:9092 or [::1]:9092 (ports 1–65535), got '${text}'`,
    );
  }
  return brokers;
}

/** An http(s) URL without a trailing slash. */
export function parseHttpUrl(text: string, label = '--es', example = 'http://127.0.0.1:9200'): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(text);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw invalidFlag(`${label} must be an http(s) URL like ${example}, got '${text}'`);
  }
  return text.replace(/\/+$/, '');
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
