/**
 * Text for the report: HTML escaping and number, duration and date formats. No locale, so the same
 * result renders the same file everywhere. Knows nothing about benchmarks.
 */

/** HTML-escapes text for element content and quoted attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function group(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A whole number with thousands separators: 12,345; "—" when not finite. */
export function formatInt(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const rounded = Math.round(n);
  return `${rounded < 0 ? '-' : ''}${group(String(Math.abs(rounded)))}`;
}

/** Up to three decimals, trailing zeros dropped, thousands separated: 1,234.5. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (Number.isInteger(n)) return formatInt(n);
  const [whole = '0', fraction = ''] = Math.abs(n).toFixed(3).replace(/0+$/, '').split('.');
  return `${n < 0 ? '-' : ''}${group(whole)}${fraction ? `.${fraction}` : ''}`;
}

/** Milliseconds with about three significant digits: 0.412, 9.87, 241, 1,150. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const decimals = ms < 1 ? 3 : ms < 10 ? 2 : ms < 100 ? 1 : 0;
  const [whole = '0', fraction] = ms.toFixed(decimals).split('.');
  return fraction ? `${group(whole)}.${fraction}` : group(whole);
}

/** A log-axis tick in ms: 1,000 or 0.01. */
export function formatAxisMs(ms: number): string {
  return ms >= 1 ? formatInt(ms) : String(Number(ms.toPrecision(1)));
}

/** A fraction as a whole percentage: 0.42 → 42%. */
export function formatPercentShare(fraction: number): string {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : '—';
}

/** A number with a fixed number of decimals; "—" when not finite. */
export function formatFixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

/** An axis tick: 1.5k, 2M, 0.25. */
export function formatCompact(n: number): string {
  if (n >= 1e6) return `${Number((n / 1e6).toFixed(2))}M`;
  if (n >= 1e3) return `${Number((n / 1e3).toFixed(2))}k`;
  return String(Number(n.toFixed(2)));
}

/** A duration for people: 412 ms, 9.8 s, 3 min 5 s, 2 h 10 min. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const totalSeconds = ms / 1000;
  if (totalSeconds < 60) return `${Number(totalSeconds.toFixed(1))} s`;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = Math.round(totalSeconds % 60);
  if (hours > 0) return `${hours} h ${minutes} min`;
  return seconds > 0 ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/** An ISO time as "2026-01-15 09:30:00 UTC" (the text itself when it is not a date). */
export function formatDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Bytes in binary units: 23.5 GiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(1))} ${units[unit]}`;
}

/** A percentile as a name: p50, p99.9, p99.999, and min and max at the ends. */
export function formatPercentile(percentile: number): string {
  if (percentile >= 100) return 'max';
  if (percentile <= 0) return 'min';
  const decimals = Math.min(6, Math.max(0, Math.ceil(-Math.log10(100 - percentile)) + 1));
  return `p${Number(percentile.toFixed(decimals))}`;
}
