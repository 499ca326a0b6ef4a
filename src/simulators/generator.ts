/**
 * The traffic generator: turns the schedule's arrivals into event records, deterministically.
 *
 * Each arrival (from the merged Poisson process, see schedule.ts) becomes one record. The arrival is
 * assigned to a region with probability proportional to players × the region's activity at that
 * event time (regions.ts), then to a player of that region uniformly; the player's session state
 * machine decides the event:
 *
 *   offline ─join→ lobby ─match_start→ in match ─(enemy_defeated | item_purchase | level_up)*→
 *   match_end → lobby → … → player_leave → offline (a later arrival makes the player rejoin)
 *
 * Spend is heavy-tailed: most players never pay; payers are minnows, dolphins or whales, each with a
 * log-normal purchase propensity and price points skewed by class. Disorder is injected per record at
 * the configured rates. Content and order depend only on the seed and the options — never on wall
 * time or on how fast the sink is — so two runs with the same seed are byte-identical.
 *
 * Hot path (see bench/generator.ts): player state in one int32 row per player, events written as
 * bytes from pre-encoded fragments into an arena (encoding.ts), one PRNG per concern; no JSON.stringify,
 * no per-event closures, and no object per event besides the record handed to the sink.
 */
import { ascii, ByteWriter, centsToJsonNumber, FragmentStore, IsoTimeWriter } from './encoding.js';
import { buildIdentityPools, type IdentityPools, PRICE_POINTS_CENTS } from './identities.js';
import { corruptEvent } from './malformed.js';
import { EVENT_TYPES, type EventType, type GroundTruthObserver } from './manifest.js';
import type { SimulateOptions } from './options.js';
import { Sfc32, STREAMS, WeightedChoice } from './prng.js';
import { PLATFORMS, REGION_PROFILES, type RegionCode, regionActivityAt, splitPlayers } from './regions.js';
import { ArrivalProcess, RateSchedule } from './schedule.js';
import type { RecordHeaders, SinkRecord } from './sinks/types.js';

export type GeneratorOptions = Pick<
  SimulateOptions,
  | 'seed'
  | 'players'
  | 'regions'
  | 'startRate'
  | 'stages'
  | 'durationMs'
  | 'events'
  | 'startTimeMs'
  | 'disorder'
>;

/** Formats player ids ("p-000417"): the same width for every player of a run. */
export class PlayerIds {
  readonly width: number;

  constructor(players: number) {
    this.width = Math.max(6, String(Math.max(0, players - 1)).length);
  }

  id(player: number): string {
    return `p-${String(player).padStart(this.width, '0')}`;
  }
}

/**
 * A record as the generator hands it over. The key and headers are built only if a sink asks for
 * them (a file or null sink never does; with a million players, a cached key per player would cost a
 * cache miss per event).
 */
export class GeneratedRecord implements SinkRecord {
  constructor(
    private readonly player: number,
    private readonly ids: PlayerIds,
    readonly value: string | Buffer,
    readonly intendedMs: number,
    private readonly runId: string,
  ) {}

  get key(): string {
    return this.ids.id(this.player);
  }

  get headers(): RecordHeaders {
    return { 'gapipe-intended-ts': String(Math.round(this.intendedMs)), 'gapipe-run-id': this.runId };
  }
}

export interface GeneratorStats {
  /** Records produced: valid events, duplicates and malformed records. */
  records: number;
  /** Distinct valid events (late and out-of-order ones included, duplicates not). */
  events: number;
  late: number;
  duplicates: number;
  malformed: number;
  outOfOrder: number;
  byType: Record<EventType, number>;
  byRegion: Partial<Record<RegionCode, number>>;
}

// Event type indices (order of EVENT_TYPES).
const JOIN = 0;
const LEAVE = 1;
const MATCH_START = 2;
const MATCH_END = 3;
const KILL = 4;
const PURCHASE = 5;
const LEVEL_UP = 6;

// Session states.
const OFFLINE = 0;
const LOBBY = 1;
const IN_MATCH = 2;

// Columns of a player's row in `world` (int32).
const PLAYER_FIELDS = 16;
const F_STATE = 0;
const F_SESSION_NO = 1;
/** Where the player's pre-encoded fields are in the fragment store; length 0 until first used. */
const F_FRAGMENT_CHUNK = 2;
const F_MATCHES_LEFT = 3;
const F_ACTIONS_LEFT = 4;
const F_FRAGMENT_OFFSET = 5;
const F_FRAGMENT_LENGTH = 6;
const F_MODE = 7;
const F_LEVEL = 8;
const F_XP = 9;
const F_LEVEL_UP_PENDING = 10;
const F_SPENDER = 11;
/** Purchase probability per action, in units of 2⁻³¹. */
const F_PURCHASE = 12;
const F_PLATFORM = 13;
const F_COUNTRY = 14;
const F_CLIENT_VERSION = 15;
const PROBABILITY_SCALE = 2 ** 31;
// Columns of a player's row in `times` (float64): milliseconds from the run's event-time start, and the match id.
const TIME_FIELDS = 4;
const T_SESSION_START = 0;
const T_MATCH_START = 1;
const T_MATCH_ID = 2;

// Pre-encoded pieces of the event text, in field order.
const EVENT_ID_PREFIX = ascii('{"schema":1,"event_id":"');
const TYPE_BYTES = EVENT_TYPES.map((t) => ascii(`","event_type":"${t}","ts":"`));
const AFTER_TS = ascii('",');
const LEAVE_PREFIX = ascii(',"session_length_s":');
const MATCH_PREFIX = ascii(',"match_id":"m-');
const LEVEL_PREFIX = ascii(',"level":');
const QUOTE = 34;
const CLOSE_BRACE = 125;

/** Spender classes: never pays, minnow, dolphin, whale (shares of the player base and base propensity). */
const SPENDER_SHARES = [0.9, 0.07, 0.025, 0.005];
const SPENDER_PURCHASE_PROBABILITY = [0, 0.01, 0.025, 0.06];
/** Price-point weights per class (index into PRICE_POINTS_CENTS): whales buy the bundles. */
const SPENDER_TIER_WEIGHTS = [
  [1, 0, 0, 0, 0, 0, 0],
  [0.35, 0.3, 0.25, 0.08, 0.02, 0, 0],
  [0.1, 0.15, 0.3, 0.25, 0.15, 0.05, 0],
  [0.02, 0.03, 0.1, 0.2, 0.25, 0.25, 0.15],
];

const ENEMIES: ReadonlyArray<readonly [string, number, number]> = [
  ['slime', 0.18, 10],
  ['wolf', 0.16, 20],
  ['bandit', 0.15, 30],
  ['goblin_archer', 0.14, 40],
  ['skeleton_warrior', 0.12, 55],
  ['wraith', 0.08, 120],
  ['cave_troll', 0.07, 180],
  ['necromancer', 0.05, 250],
  ['stone_golem', 0.03, 300],
  ['fire_drake', 0.02, 400],
];
const WEAPONS = [
  'longsword',
  'shortbow',
  'battle_axe',
  'war_hammer',
  'staff_of_embers',
  'dagger',
  'crossbow',
  'spear',
  'flintlock',
  'frost_wand',
];
const MODES: ReadonlyArray<readonly [string, number]> = [
  ['casual', 0.4],
  ['ranked', 0.3],
  ['battle_royale', 0.2],
  ['co_op', 0.1],
];
const RESULT_BYTES = ['win', 'loss', 'draw'].map((r) => ascii(`,"result":"${r}","duration_s":`));
const CLIENT_VERSIONS: ReadonlyArray<readonly [string, number]> = [
  ['1.42.0', 0.72],
  ['1.41.2', 0.2],
  ['1.40.5', 0.08],
];

/** Mean matches per session beyond the first, and mean actions per match beyond the minimum. */
const EXTRA_MATCHES_MEAN = 2;
const MIN_ACTIONS = 3;
const EXTRA_ACTIONS_MEAN = 12;
const RING_SIZE = 64;
const MAX_HOLD_SLOTS = 8;

function xpForNextLevel(level: number): number {
  return 300 + 100 * level;
}

interface HeldEvent {
  value: Buffer;
  tsMs: number;
  region: number;
  type: number;
  player: number;
  priceCents: number;
  releaseAt: number;
}

export class TrafficGenerator {
  readonly schedule: RateSchedule;
  private readonly arrivals: ArrivalProcess;
  private readonly content: Sfc32;
  private readonly chaos: Sfc32;
  private readonly pools: IdentityPools;
  private readonly regions: readonly RegionCode[];
  private readonly startTimeMs: number;
  private readonly durationLimitMs: number;
  private readonly eventLimit: number;
  private readonly disorder: GeneratorOptions['disorder'];
  private readonly perRecordDisorder: boolean;
  private readonly keepRing: boolean;

  private nextOffset = Number.POSITIVE_INFINITY;
  private lastOffset = 0;
  private arrivalsDone = false;
  private emitted = 0;
  private intendedBaseMs = 0;
  private runId = '';
  private observer: GroundTruthObserver | undefined;

  // Regions.
  private readonly regionStart: Int32Array;
  private readonly regionCount: Int32Array;
  private regionChoice: WeightedChoice | undefined;
  private regionChoiceUntilMs = Number.NEGATIVE_INFINITY;
  private readonly regionJson: string[];

  /**
   * Player state, one row of PLAYER_FIELDS int32s per player (64 bytes: one cache line). With a
   * million players the generator is bound by memory latency, and a row per player touches one line
   * where an array per field touched a dozen.
   */
  private readonly world: Int32Array;
  /**
   * Per player: session start, match start (ms from the start) and match id, as doubles. Touched only
   * by joins, leaves and match starts and ends, so they live apart from the hot row.
   */
  private readonly times: Float64Array;
  private readonly ids: PlayerIds;
  private readonly playerFragments: FragmentStore;
  private matchCounter = 0;

  // Choices and pre-built payload text.
  private readonly enemyChoice = new WeightedChoice(ENEMIES.map(([, w]) => w));
  private readonly modeChoice = new WeightedChoice(MODES.map(([, w]) => w));
  private readonly tierChoice = SPENDER_TIER_WEIGHTS.map((w) => new WeightedChoice(w));
  private readonly killPrefix: Buffer[];
  private readonly itemPayloads: Buffer[][];
  private readonly clientVersionPayload = CLIENT_VERSIONS.map(([v]) => ascii(`,"client_version":"${v}"`));
  private readonly modeBytes = MODES.map(([m]) => ascii(`","mode":"${m}"`));
  private readonly writer = new ByteWriter();
  private readonly iso = new IsoTimeWriter();

  // The event being built (fields instead of a returned object: no allocation per event).
  private genTsMs = 0;
  private genRegion = 0;
  private genType = 0;
  private genPlayer = 0;
  private genPriceCents = 0;
  /** Payload parameters chosen by the state machine, written after the common fields. */
  private payloadIndex = 0;
  private payloadNumber = 0;

  // Disorder.
  private readonly held: HeldEvent[] = [];
  private readonly ringValue: Buffer[] = new Array(RING_SIZE).fill(Buffer.alloc(0));
  private readonly ringPlayer = new Int32Array(RING_SIZE);
  private readonly ringTs = new Float64Array(RING_SIZE);
  private readonly ringRegion = new Uint8Array(RING_SIZE);
  private readonly ringType = new Uint8Array(RING_SIZE);
  private ringCount = 0;
  private ringNext = 0;

  // Stats.
  private readonly typeCounts = new Float64Array(EVENT_TYPES.length);
  private readonly regionCounts: Float64Array;
  private lateCount = 0;
  private duplicateCount = 0;
  private malformedCount = 0;
  private outOfOrderCount = 0;

  constructor(options: GeneratorOptions) {
    const seed = options.seed >>> 0;
    this.schedule = new RateSchedule(options.startRate, options.stages);
    this.arrivals = new ArrivalProcess(this.schedule, new Sfc32(seed, STREAMS.arrivals));
    this.content = new Sfc32(seed, STREAMS.content);
    this.chaos = new Sfc32(seed, STREAMS.disorder);
    this.regions = options.regions;
    this.startTimeMs = Math.floor(options.startTimeMs);
    this.durationLimitMs = options.durationMs ?? Number.POSITIVE_INFINITY;
    this.eventLimit = options.events ?? Number.POSITIVE_INFINITY;
    this.disorder = options.disorder;
    const d = options.disorder;
    this.perRecordDisorder = d.duplicates + d.malformed + d.outOfOrder > 0;
    this.keepRing = d.duplicates > 0;

    const players = options.players;
    const counts = splitPlayers(players, this.regions);
    this.pools = buildIdentityPools(seed, this.regions, counts);
    this.regionStart = new Int32Array(counts.length);
    this.regionCount = Int32Array.from(counts);
    for (let r = 1; r < counts.length; r++) {
      this.regionStart[r] = (this.regionStart[r - 1] as number) + (counts[r - 1] as number);
    }
    this.regionJson = this.regions.map((r) => `,"region":"${r}","country":"`);
    this.regionCounts = new Float64Array(this.regions.length);

    this.world = new Int32Array(players * PLAYER_FIELDS);
    this.times = new Float64Array(players * TIME_FIELDS);
    this.ids = new PlayerIds(players);
    this.playerFragments = new FragmentStore(players);

    this.killPrefix = [];
    for (const [enemy] of ENEMIES) {
      for (const weapon of WEAPONS)
        this.killPrefix.push(ascii(`,"enemy_type":"${enemy}","weapon":"${weapon}","xp":`));
    }
    this.itemPayloads = this.pools.itemsByTier.map((items) =>
      items.map((item) =>
        ascii(
          `,"item_id":${JSON.stringify(item.itemId)},"item_name":${JSON.stringify(item.itemName)},"category":${JSON.stringify(item.category)},"price_usd":${centsToJsonNumber(item.priceCents)}`,
        ),
      ),
    );

    this.initPlayers(new Sfc32(seed, STREAMS.world));
    this.advanceArrivals();
  }

  /** Sets the wall-clock time that offset 0 maps to (records' intended send times) and the run id. */
  anchor(intendedBaseMs: number, runId: string): void {
    this.intendedBaseMs = intendedBaseMs;
    this.runId = runId;
  }

  /** Receives every record's ground-truth facts (the manifest). */
  observe(observer: GroundTruthObserver): void {
    this.observer = observer;
  }

  /** Offset (ms after the start) of the next record's intended send time; Infinity when finished. */
  get nextOffsetMs(): number {
    return this.nextOffset;
  }

  get done(): boolean {
    return this.nextOffset === Number.POSITIVE_INFINITY;
  }

  /** Records produced so far. */
  get produced(): number {
    return this.emitted;
  }

  /**
   * Appends to `out` the records due at or before `untilOffsetMs`, at most `max` of them; returns how
   * many. Pass Infinity to take records regardless of their time (unpaced runs, benchmarks).
   */
  fill(out: SinkRecord[], untilOffsetMs: number, max: number): number {
    let n = 0;
    // nextOffset is Infinity once finished, which `<= Infinity` alone would not stop.
    while (n < max && this.nextOffset <= untilOffsetMs && this.nextOffset !== Number.POSITIVE_INFINITY) {
      out.push(this.slot(this.nextOffset));
      n++;
      this.emitted++;
      this.advanceArrivals();
    }
    if (n > 0 && this.observer) this.observer.advance(this.earliestFutureEventTimeMs());
    return n;
  }

  /** No record produced from now on has an event time before this (what lets the manifest finalize windows). */
  earliestFutureEventTimeMs(): number {
    if (this.done) return Number.POSITIVE_INFINITY;
    let earliest =
      this.startTimeMs + this.nextOffset - (this.disorder.late > 0 ? this.disorder.lateByMs.max : 0) - 1;
    for (const held of this.held) earliest = Math.min(earliest, held.tsMs);
    return earliest;
  }

  stats(): GeneratorStats {
    const byType = {} as Record<EventType, number>;
    for (const [i, type] of EVENT_TYPES.entries()) byType[type] = this.typeCounts[i] as number;
    const byRegion: Partial<Record<RegionCode, number>> = {};
    for (const [i, region] of this.regions.entries()) byRegion[region] = this.regionCounts[i] as number;
    return {
      records: this.emitted,
      events: this.typeCounts.reduce((sum, n) => sum + n, 0),
      late: this.lateCount,
      duplicates: this.duplicateCount,
      malformed: this.malformedCount,
      outOfOrder: this.outOfOrderCount,
      byType,
      byRegion,
    };
  }

  // --- arrivals and disorder --------------------------------------------------------------------------

  private advanceArrivals(): void {
    if (this.emitted >= this.eventLimit) {
      this.nextOffset = Number.POSITIVE_INFINITY;
      return;
    }
    if (!this.arrivalsDone) {
      const next = this.arrivals.next();
      if (next < this.durationLimitMs) {
        this.lastOffset = next;
        this.nextOffset = next;
        return;
      }
      this.arrivalsDone = true;
    }
    // Out-of-order events still held go out right after the last arrival.
    this.nextOffset = this.held.length > 0 ? this.lastOffset : Number.POSITIVE_INFINITY;
  }

  private slot(offset: number): SinkRecord {
    const intended = this.intendedBaseMs + offset;
    if (this.held.length > 0) {
      const index = this.releasableHeld();
      if (index >= 0) return this.emitHeld(index, intended);
    }
    if (this.perRecordDisorder) {
      const d = this.disorder;
      const u = this.chaos.float();
      if (u < d.duplicates) {
        if (this.ringCount > 0) return this.emitDuplicate(intended);
      } else if (u < d.duplicates + d.malformed) {
        return this.emitMalformed(offset, intended);
      } else if (
        u < d.duplicates + d.malformed + d.outOfOrder &&
        this.eventLimit - this.emitted > this.held.length + 1
      ) {
        this.hold(offset);
      }
    }
    let lateByMs = 0;
    if (this.disorder.late > 0 && this.chaos.float() < this.disorder.late) {
      const { min, max } = this.disorder.lateByMs;
      lateByMs = Math.round(min + (max - min) * this.chaos.float());
    }
    const value = this.generate(offset, lateByMs);
    this.recordValid(value, lateByMs > 0);
    return new GeneratedRecord(this.genPlayer, this.ids, value, intended, this.runId);
  }

  private releasableHeld(): number {
    const remaining = this.eventLimit - this.emitted;
    if (this.arrivalsDone || remaining <= this.held.length) return 0;
    for (let i = 0; i < this.held.length; i++) {
      if ((this.held[i] as HeldEvent).releaseAt <= this.emitted) return i;
    }
    return -1;
  }

  private hold(offset: number): void {
    const value = this.generate(offset, 0);
    this.held.push({
      value,
      tsMs: this.genTsMs,
      region: this.genRegion,
      type: this.genType,
      player: this.genPlayer,
      priceCents: this.genPriceCents,
      releaseAt: this.emitted + 1 + this.chaos.int(MAX_HOLD_SLOTS),
    });
  }

  private emitHeld(index: number, intended: number): SinkRecord {
    const [held] = this.held.splice(index, 1) as [HeldEvent];
    this.genTsMs = held.tsMs;
    this.genRegion = held.region;
    this.genType = held.type;
    this.genPlayer = held.player;
    this.genPriceCents = held.priceCents;
    this.recordValid(held.value, false);
    this.outOfOrderCount++;
    this.observer?.outOfOrder();
    return new GeneratedRecord(held.player, this.ids, held.value, intended, this.runId);
  }

  private emitDuplicate(intended: number): SinkRecord {
    const back = 1 + this.chaos.int(Math.min(this.ringCount, RING_SIZE));
    const i = (this.ringNext - back + RING_SIZE) % RING_SIZE;
    this.duplicateCount++;
    this.observer?.duplicate(
      this.ringTs[i] as number,
      this.ringRegion[i] as number,
      this.ringType[i] as number,
    );
    return new GeneratedRecord(
      this.ringPlayer[i] as number,
      this.ids,
      this.ringValue[i] as Buffer,
      intended,
      this.runId,
    );
  }

  private emitMalformed(offset: number, intended: number): SinkRecord {
    const valid = this.generate(offset, 0);
    const { kind, value } = corruptEvent(valid.toString('utf8'), this.chaos);
    this.malformedCount++;
    this.observer?.malformed(kind);
    return new GeneratedRecord(this.genPlayer, this.ids, value, intended, this.runId);
  }

  private recordValid(value: Buffer, late: boolean): void {
    this.typeCounts[this.genType] = (this.typeCounts[this.genType] as number) + 1;
    this.regionCounts[this.genRegion] = (this.regionCounts[this.genRegion] as number) + 1;
    if (late) this.lateCount++;
    this.observer?.valid(
      this.genTsMs,
      this.genRegion,
      this.genType,
      this.genPlayer,
      this.genPriceCents,
      late,
    );
    if (this.keepRing) {
      const i = this.ringNext;
      this.ringValue[i] = value;
      this.ringPlayer[i] = this.genPlayer;
      this.ringTs[i] = this.genTsMs;
      this.ringRegion[i] = this.genRegion;
      this.ringType[i] = this.genType;
      this.ringNext = (i + 1) % RING_SIZE;
      if (this.ringCount < RING_SIZE) this.ringCount++;
    }
  }

  // --- the world ----------------------------------------------------------------------------------------

  private initPlayers(rng: Sfc32): void {
    const world = this.world;
    const spenderChoice = new WeightedChoice(SPENDER_SHARES);
    const versionChoice = new WeightedChoice(CLIENT_VERSIONS.map(([, w]) => w));
    for (let r = 0; r < this.regions.length; r++) {
      const profile = REGION_PROFILES[this.regions[r] as RegionCode];
      const platformChoice = new WeightedChoice(profile.platformMix);
      const countryPoolSize = this.pools.regions[profile.code].countryPool.length;
      // Players already in a session when the run starts, so the stream does not open with a wall of joins.
      const onlineShare = 0.3 + 0.6 * regionActivityAt(profile, this.startTimeMs);
      const start = this.regionStart[r] as number;
      const end = start + (this.regionCount[r] as number);
      for (let p = start; p < end; p++) {
        const o = p * PLAYER_FIELDS;
        const spender = spenderChoice.pick(rng.float());
        world[o + F_SPENDER] = spender;
        const base = SPENDER_PURCHASE_PROBABILITY[spender] as number;
        const probability = base === 0 ? 0 : Math.min(0.5, base * rng.lognormal(0, 0.8));
        world[o + F_PURCHASE] = Math.round(probability * PROBABILITY_SCALE);
        world[o + F_PLATFORM] = platformChoice.pick(rng.float());
        world[o + F_COUNTRY] = rng.int(countryPoolSize);
        world[o + F_CLIENT_VERSION] = versionChoice.pick(rng.float());
        const level = 1 + Math.min(199, rng.geometric(14));
        world[o + F_LEVEL] = level;
        world[o + F_XP] = rng.int(xpForNextLevel(level));
        if (rng.chance(onlineShare)) {
          world[o + F_SESSION_NO] = 1;
          this.times[p * TIME_FIELDS + T_SESSION_START] = -rng.int(20 * 60_000);
          world[o + F_MATCHES_LEFT] = 1 + rng.geometric(EXTRA_MATCHES_MEAN);
          world[o + F_STATE] = LOBBY;
          if (rng.chance(0.7)) this.beginMatch(p, -rng.int(5 * 60_000), rng);
        }
      }
    }
  }

  /** Starts a match for player `p` at `atMs` after the start. */
  private beginMatch(p: number, atMs: number, rng: Sfc32): void {
    const world = this.world;
    const o = p * PLAYER_FIELDS;
    world[o + F_STATE] = IN_MATCH;
    this.times[p * TIME_FIELDS + T_MATCH_ID] = ++this.matchCounter;
    this.times[p * TIME_FIELDS + T_MATCH_START] = atMs;
    world[o + F_MODE] = this.modeChoice.pick(rng.float());
    world[o + F_ACTIONS_LEFT] = MIN_ACTIONS + Math.min(60_000, rng.geometric(EXTRA_ACTIONS_MEAN));
  }

  private pickRegion(tsMs: number): number {
    if (this.regions.length === 1) return 0;
    if (tsMs >= this.regionChoiceUntilMs || tsMs < this.regionChoiceUntilMs - 60_000) {
      // Recomputed once per simulated minute: players × activity at this time of day.
      const weights = this.regions.map(
        (region, r) => (this.regionCount[r] as number) * regionActivityAt(REGION_PROFILES[region], tsMs),
      );
      this.regionChoice = new WeightedChoice(weights);
      this.regionChoiceUntilMs = (Math.floor(tsMs / 60_000) + 1) * 60_000;
    }
    return (this.regionChoice as WeightedChoice).pick(this.content.float());
  }

  /** Builds the next event for the arrival at `offset`; sets the gen* fields. */
  private generate(offset: number, lateByMs: number): Buffer {
    const rng = this.content;
    const nowMs = Math.floor(this.startTimeMs + offset);
    const r = this.pickRegion(nowMs);
    const p = (this.regionStart[r] as number) + rng.int(this.regionCount[r] as number);
    const o = p * PLAYER_FIELDS;
    const type = this.step(p, nowMs - this.startTimeMs, rng);

    const tsMs = nowMs - lateByMs;
    this.genTsMs = tsMs;
    this.genRegion = r;
    this.genType = type;
    this.genPlayer = p;

    const w = this.writer;
    w.begin();
    w.bytes(EVENT_ID_PREFIX);
    w.uuid(rng);
    w.bytes(TYPE_BYTES[type] as Buffer);
    if (lateByMs > 0) this.iso.writeOutlier(w, tsMs);
    else this.iso.write(w, tsMs);
    w.bytes(AFTER_TS);
    const world = this.world;
    if (world[o + F_FRAGMENT_LENGTH] === 0) this.buildPlayerFragment(p);
    // Ends with the player's part of the session id.
    this.playerFragments.writeTo(
      w,
      p,
      world[o + F_FRAGMENT_CHUNK] as number,
      world[o + F_FRAGMENT_OFFSET] as number,
      world[o + F_FRAGMENT_LENGTH] as number,
    );
    w.uint(this.world[o + F_SESSION_NO] as number, 4);
    w.byte(QUOTE);
    switch (type) {
      case JOIN:
        w.bytes(this.clientVersionPayload[this.payloadIndex] as Buffer);
        break;
      case LEAVE:
        w.bytes(LEAVE_PREFIX);
        w.seconds(this.payloadNumber);
        break;
      case MATCH_START:
        w.bytes(MATCH_PREFIX);
        w.uint(this.times[p * TIME_FIELDS + T_MATCH_ID] as number);
        w.bytes(this.modeBytes[this.world[o + F_MODE] as number] as Buffer);
        break;
      case MATCH_END:
        w.bytes(MATCH_PREFIX);
        w.uint(this.times[p * TIME_FIELDS + T_MATCH_ID] as number);
        w.bytes(this.modeBytes[this.world[o + F_MODE] as number] as Buffer);
        w.bytes(RESULT_BYTES[this.payloadIndex] as Buffer);
        w.seconds(this.payloadNumber);
        break;
      case KILL:
        w.bytes(this.killPrefix[this.payloadIndex] as Buffer);
        w.uint(this.payloadNumber);
        break;
      case PURCHASE:
        w.bytes(this.itemPayloads[this.payloadNumber]?.[this.payloadIndex] as Buffer);
        break;
      default:
        w.bytes(LEVEL_PREFIX);
        w.uint(this.payloadNumber);
    }
    w.byte(CLOSE_BRACE);
    return w.end();
  }

  /**
   * One step of player `p`'s session state machine, at `nowMs` after the start: returns the event
   * type and leaves its payload parameters in payloadIndex / payloadNumber / genPriceCents.
   */
  private step(p: number, nowMs: number, rng: Sfc32): number {
    const world = this.world;
    const o = p * PLAYER_FIELDS;
    const t = p * TIME_FIELDS;
    this.genPriceCents = 0;
    const state = world[o + F_STATE];
    if (world[o + F_LEVEL_UP_PENDING] === 1 && state !== OFFLINE) {
      world[o + F_LEVEL_UP_PENDING] = 0;
      this.payloadNumber = world[o + F_LEVEL] as number;
      return LEVEL_UP;
    }
    if (state === OFFLINE) {
      world[o + F_STATE] = LOBBY;
      world[o + F_SESSION_NO] = (world[o + F_SESSION_NO] as number) + 1;
      this.times[t + T_SESSION_START] = nowMs;
      world[o + F_MATCHES_LEFT] = 1 + rng.geometric(EXTRA_MATCHES_MEAN);
      this.payloadIndex = world[o + F_CLIENT_VERSION] as number;
      return JOIN;
    }
    if (state === LOBBY) {
      if (rng.float() * PROBABILITY_SCALE < (world[o + F_PURCHASE] as number)) return this.purchase(o, rng);
      if ((world[o + F_MATCHES_LEFT] as number) > 0) {
        this.beginMatch(p, nowMs, rng);
        return MATCH_START;
      }
      world[o + F_STATE] = OFFLINE;
      this.payloadNumber = nowMs - (this.times[t + T_SESSION_START] as number);
      return LEAVE;
    }
    if ((world[o + F_ACTIONS_LEFT] as number) === 0) {
      world[o + F_STATE] = LOBBY;
      world[o + F_MATCHES_LEFT] = Math.max(0, (world[o + F_MATCHES_LEFT] as number) - 1);
      const result = rng.float();
      this.payloadIndex = result < 0.47 ? 0 : result < 0.94 ? 1 : 2;
      this.payloadNumber = nowMs - (this.times[t + T_MATCH_START] as number);
      return MATCH_END;
    }
    world[o + F_ACTIONS_LEFT] = (world[o + F_ACTIONS_LEFT] as number) - 1;
    if (rng.float() * PROBABILITY_SCALE < (world[o + F_PURCHASE] as number)) return this.purchase(o, rng);
    const enemy = this.enemyChoice.pick(rng.float());
    const baseXp = (ENEMIES[enemy] as readonly [string, number, number])[2];
    const xp = baseXp + Math.floor(baseXp * 0.4 * rng.float());
    const total = (world[o + F_XP] as number) + xp;
    const level = world[o + F_LEVEL] as number;
    const need = xpForNextLevel(level);
    if (total >= need) {
      world[o + F_XP] = total - need;
      world[o + F_LEVEL] = level + 1;
      world[o + F_LEVEL_UP_PENDING] = 1;
    } else {
      world[o + F_XP] = total;
    }
    this.payloadIndex = enemy * WEAPONS.length + rng.int(WEAPONS.length);
    this.payloadNumber = xp;
    return KILL;
  }

  private purchase(o: number, rng: Sfc32): number {
    const tier = (this.tierChoice[this.world[o + F_SPENDER] as number] as WeightedChoice).pick(rng.float());
    this.payloadNumber = tier;
    this.payloadIndex = rng.int((this.itemPayloads[tier] as Buffer[]).length);
    this.genPriceCents = PRICE_POINTS_CENTS[tier] as number;
    return PURCHASE;
  }

  private buildPlayerFragment(p: number): void {
    let r = this.regions.length - 1;
    while (r > 0 && p < (this.regionStart[r] as number)) r--;
    const identities = this.pools.regions[this.regions[r] as RegionCode];
    const k = p - (this.regionStart[r] as number);
    const names = identities.usernames;
    const username = `${names[k % names.length]}${k >= names.length ? Math.floor(k / names.length) : ''}`;
    const fragments = this.playerFragments;
    fragments.add(
      p,
      `"player_id":"${this.ids.id(p)}","username":${JSON.stringify(username)}${
        this.regionJson[r]
      }${identities.countryPool[this.world[p * PLAYER_FIELDS + F_COUNTRY] as number]}","platform":"${
        PLATFORMS[this.world[p * PLAYER_FIELDS + F_PLATFORM] as number]
      }","session_id":"s-${String(p).padStart(this.ids.width, '0')}-`,
    );
    const o = p * PLAYER_FIELDS;
    this.world[o + F_FRAGMENT_CHUNK] = fragments.lastChunk;
    this.world[o + F_FRAGMENT_OFFSET] = fragments.lastOffset;
    this.world[o + F_FRAGMENT_LENGTH] = fragments.lastLength;
  }
}
