/** Scales (data → viewBox coordinates) and tick values for the plotting kit. */

/** Maps a data value to a coordinate. */
export type Scale = (value: number) => number;

export function linearScale(domainMin: number, domainMax: number, rangeMin: number, rangeMax: number): Scale {
  const span = domainMax - domainMin || 1;
  return (value) => rangeMin + ((value - domainMin) / span) * (rangeMax - rangeMin);
}

/** A base-10 logarithmic scale; the domain must be positive. */
export function logScale(domainMin: number, domainMax: number, rangeMin: number, rangeMax: number): Scale {
  const low = Math.log10(domainMin);
  const span = Math.log10(domainMax) - low || 1;
  return (value) => rangeMin + ((Math.log10(value) - low) / span) * (rangeMax - rangeMin);
}

/**
 * Ticks 0, step, 2·step, … up to the first one at or above max (steps of 1, 2, 2.5 or 5 × 10ⁿ; with
 * `whole`, whole numbers only and no 2.5 — seconds labelled "3" must be at 3, not 2.5).
 */
export function niceTicks(max: number, target: number, options: { whole?: boolean } = {}): number[] {
  const upper = max > 0 && Number.isFinite(max) ? max : 1;
  const raw = upper / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  const quarter = !options.whole || magnitude >= 10;
  let step =
    (normalized <= 1
      ? 1
      : normalized <= 2
        ? 2
        : normalized <= 2.5 && quarter
          ? 2.5
          : normalized <= 5
            ? 5
            : 10) * magnitude;
  if (options.whole) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let i = 0; ; i++) {
    const value = Math.round(i * step * 1e9) / 1e9;
    ticks.push(value);
    if (value >= upper) break;
  }
  return ticks;
}
