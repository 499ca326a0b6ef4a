/**
 * The simulated world's regions: where players live, when they play, what they play on.
 *
 * Each region has one fixed UTC offset (no daylight saving, so a run is reproducible whatever the
 * calendar says) and an hourly activity curve in local time. The share of events a region produces at
 * an instant is proportional to its player count times its curve at that local time, so a run that
 * starts at 20:00 in EU (19:00Z) is EU-heavy and a run at 20:00 in ASIA (12:00Z) is ASIA-heavy.
 */

export const REGION_CODES = ['NA', 'EU', 'ASIA', 'SA', 'OCE'] as const;
export type RegionCode = (typeof REGION_CODES)[number];

export const PLATFORMS = ['pc', 'playstation', 'xbox', 'switch', 'ios', 'android'] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface RegionProfile {
  code: RegionCode;
  /** Representative standard-time offset from UTC in hours (NA: US Central, EU: CET, ASIA: UTC+8, SA: Brasília, OCE: AEST). */
  utcOffsetHours: number;
  /** Relative size of the player base; players are split across the chosen regions by these weights. */
  populationWeight: number;
  /** Activity by local hour 0–23 (1 = the evening peak); interpolated linearly between hours. */
  hourlyActivity: readonly number[];
  /** Platform shares, in the order of PLATFORMS. */
  platformMix: readonly number[];
  /** ISO 3166-1 alpha-2 countries with their share of the region's players. */
  countries: ReadonlyArray<readonly [string, number]>;
  /** faker locales whose names feed the region's usernames (Latin-script locales: usernames are ASCII handles). */
  locales: readonly string[];
}

/**
 * A typical online game's day: a trough before dawn, a slow climb through work/school hours and a peak
 * around 20:00–21:00. Numbers in the spirit of published concurrency charts (Steam, console networks),
 * not measured data.
 */
const EVENING_PEAK_DAY = [
  0.34, 0.24, 0.17, 0.13, 0.11, 0.1, 0.12, 0.16, 0.22, 0.28, 0.33, 0.38, 0.43, 0.46, 0.48, 0.51, 0.57, 0.66,
  0.79, 0.92, 1.0, 0.98, 0.82, 0.56,
] as const;

/** Mobile-heavy markets play more on commutes and at lunch. */
const MOBILE_DAY = [
  0.3, 0.2, 0.14, 0.11, 0.1, 0.11, 0.18, 0.3, 0.4, 0.38, 0.38, 0.44, 0.55, 0.5, 0.45, 0.47, 0.52, 0.6, 0.7,
  0.82, 0.93, 1.0, 0.88, 0.6,
] as const;

export const REGION_PROFILES: Record<RegionCode, RegionProfile> = {
  NA: {
    code: 'NA',
    utcOffsetHours: -6,
    populationWeight: 0.3,
    hourlyActivity: EVENING_PEAK_DAY,
    platformMix: [0.34, 0.24, 0.2, 0.07, 0.09, 0.06],
    countries: [
      ['US', 0.82],
      ['CA', 0.1],
      ['MX', 0.08],
    ],
    locales: ['en_US', 'en_CA', 'es_MX'],
  },
  EU: {
    code: 'EU',
    utcOffsetHours: 1,
    populationWeight: 0.3,
    hourlyActivity: EVENING_PEAK_DAY,
    platformMix: [0.36, 0.3, 0.1, 0.08, 0.07, 0.09],
    countries: [
      ['DE', 0.2],
      ['GB', 0.18],
      ['FR', 0.16],
      ['ES', 0.1],
      ['IT', 0.1],
      ['PL', 0.1],
      ['NL', 0.06],
      ['SE', 0.05],
      ['IE', 0.05],
    ],
    locales: ['de', 'en_GB', 'fr', 'es', 'it', 'pl', 'nl', 'sv'],
  },
  ASIA: {
    code: 'ASIA',
    utcOffsetHours: 8,
    populationWeight: 0.25,
    hourlyActivity: MOBILE_DAY,
    platformMix: [0.3, 0.06, 0.02, 0.07, 0.2, 0.35],
    countries: [
      ['JP', 0.22],
      ['KR', 0.16],
      ['CN', 0.2],
      ['TW', 0.08],
      ['SG', 0.06],
      ['ID', 0.1],
      ['PH', 0.08],
      ['VN', 0.05],
      ['IN', 0.05],
    ],
    locales: ['en_IN', 'id_ID', 'en'],
  },
  SA: {
    code: 'SA',
    utcOffsetHours: -3,
    populationWeight: 0.1,
    hourlyActivity: MOBILE_DAY,
    platformMix: [0.3, 0.15, 0.05, 0.03, 0.05, 0.42],
    countries: [
      ['BR', 0.55],
      ['AR', 0.18],
      ['CL', 0.12],
      ['CO', 0.1],
      ['PE', 0.05],
    ],
    locales: ['pt_BR', 'es', 'es_MX'],
  },
  OCE: {
    code: 'OCE',
    utcOffsetHours: 10,
    populationWeight: 0.05,
    hourlyActivity: EVENING_PEAK_DAY,
    platformMix: [0.35, 0.25, 0.15, 0.08, 0.1, 0.07],
    countries: [
      ['AU', 0.84],
      ['NZ', 0.16],
    ],
    locales: ['en_AU', 'en_AU_ocker'],
  },
};

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The region's activity (0–1) at the UTC instant `utcMs`, interpolated between its local hours. */
export function regionActivityAt(profile: RegionProfile, utcMs: number): number {
  const localMs = (((utcMs + profile.utcOffsetHours * HOUR_MS) % DAY_MS) + DAY_MS) % DAY_MS;
  const hours = localMs / HOUR_MS;
  const hour = Math.floor(hours);
  const curve = profile.hourlyActivity;
  const here = curve[hour] as number;
  const next = curve[(hour + 1) % 24] as number;
  return here + (next - here) * (hours - hour);
}

/** Splits `players` over `regions` by population weight (largest remainder; every region gets at least one). */
export function splitPlayers(players: number, regions: readonly RegionCode[]): number[] {
  const weights = regions.map((r) => REGION_PROFILES[r].populationWeight);
  const total = weights.reduce((sum, w) => sum + w, 0);
  const spare = players - regions.length;
  const exact = weights.map((w) => (spare * w) / total);
  const counts = exact.map((x) => 1 + Math.floor(x));
  let left = players - counts.reduce((sum, c) => sum + c, 0);
  const order = exact
    .map((x, i) => ({ i, remainder: x - Math.floor(x) }))
    .sort((p, q) => q.remainder - p.remainder || p.i - q.i);
  for (const { i } of order) {
    if (left <= 0) break;
    counts[i] = (counts[i] as number) + 1;
    left--;
  }
  return counts;
}
