/**
 * The traffic generator: turns the schedule's arrivals into event records, deterministically, for
 * the whole stream or for one shard of its players.
 *
 * Each arrival (from the merged Poisson process, see schedule.ts) becomes exactly one record. The
 * arrival is assigned to a region with probability proportional to players × the region's activity
 * at that event time (regions.ts), then to a player of that region uniformly; the player's session
 * state machine decides the event:
 *
 *   offline ─join→ lobby ─match_start→ in match ─(enemy_defeated | item_purchase | level_up)*→
 *   match_end → lobby → … → player_leave → offline (a later arrival makes the player rejoin)
 *
 * Spend is heavy-tailed: most players never pay; payers are minnows, dolphins or whales, each with a
 * log-normal purchase propensity and price points skewed by class. Content and order depend only on
 * the seed and the options — never on wall time or on how fast the sink is — so two runs with the
 * same seed are byte-identical.
 *
 * Sharding (shard.ts): a generator owns the players p with p mod count = index. Everything about a
 * record depends only on the global walk and on its own player, never on other players' events, so
 * the shards of a split together produce exactly the records of the whole stream:
 * - The walk (one arrival time, one region and one player draw per arrival, from the `arrivals` and
 *   `players` streams) is the same for every shard; each shard walks all of it and keeps its own.
 * - A player's content comes from the player's own PRNG stream, whose state lives in the player's row.
 * - Disorder is decided per record by a hash of the seed and the record's index in the walk:
 *   malformed (the event is generated, then corrupted), out-of-order (event time set back by up to
 *   max(1 s, 8 mean gaps between arrivals), at most 10 s: the record goes out after events that
 *   happened later), late (set back by --late-by). A duplicate re-sends a player's event, byte for
 *   byte, in place of that player's next record — an at-least-once client sending it again — if
 *   that comes within RESEND_WINDOW_MS (a player who sends less often than that re-sends nothing, so
 *   with very sparse players fewer duplicates come out than asked for); the chances are scaled so the
 *   configured fractions hold over all records.
 * Record counts are exact: --events N is N arrivals, each one record in exactly one shard.
 *
 * Cost model: walking one arrival costs a few tens of nanoseconds (an exponential draw, a region
 * and a player draw); generating a record about a microsecond. A shard of N walks N arrivals per
 * record of its own, so up to a few dozen shards the cost stays dominated by its own records.
 *
 * Hot path (see bench/generator.ts): player state in one int32 row per player (16 ints, one cache
 * line, the PRNG state included), events written as bytes from pre-encoded fragments into an arena
 * (encoding.ts); no JSON.stringify, no per-event closures, and no object per event besides the record
 * handed to the sink.
 */
import { ascii, ByteWriter, centsToJsonNumber, FragmentStore, IsoTimeWriter } from './encoding.js';
import { buildIdentityPools, type IdentityPools, PRICE_POINTS_CENTS } from './identities.js';
import { corruptEvent, MALFORMED_KINDS, type MalformedKind } from './malformed.js';
import {
  EVENT_TYPES,
  type EventType,
  type GroundTruthObserver,
  type RecordFacts,
  type RecordKind,
  type ResendGroup,
} from './manifest.js';
import type { SimulateOptions } from './options.js';
import { hashKey, recordHash, Sfc32, STREAMS, WeightedChoice } from './prng.js';
import { PLATFORMS, REGION_PROFILES, type RegionCode, regionActivityAt, splitPlayers } from './regions.js';
import { RateSchedule } from './schedule.js';
import { playersInShard, type ShardSpec, WHOLE_STREAM } from './shard.js';
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

const RECORD_KINDS: readonly RecordKind[] = ['event', 'duplicate', 'malformed'];
const KIND_EVENT = 0;
const KIND_DUPLICATE = 1;
const KIND_MALFORMED = 2;

/**
 * Region, type, kind, late flag, malformed kind and price (cents, below 2¹⁴) in one small integer:
 * a record carries its facts without growing by more than a field.
 */
function packFacts(
  region: number,
  type: number,
  kind: number,
  late: boolean,
  priceCents: number,
  malformed = 0,
): number {
  return region | (type << 3) | (kind << 6) | (late ? 256 : 0) | (malformed << 9) | (priceCents << 13);
}

const TS_FIELD = Buffer.from('"ts":"');

/**
 * A record as the generator hands it over. The key and headers are built only if a sink asks for
 * them (a file or null sink never does; with a million players, a cached key per player would cost a
 * cache miss per event). It carries its ground-truth facts, so a record the producer finally gives up
 * on can be taken out of the manifest.
 */
export class GeneratedRecord implements SinkRecord, RecordFacts {
  constructor(
    private readonly player: number,
    private readonly ids: PlayerIds,
    readonly value: string | Buffer,
    readonly intendedMs: number,
    private readonly runId: string,
    private readonly facts = 0,
    readonly resendGroup: ResendGroup | undefined = undefined,
    /** The event time when the generator has it at hand (NaN: read it from the bytes when asked). */
    private readonly eventTsMs = Number.NaN,
  ) {}

  get key(): string {
    return this.ids.id(this.player);
  }

  get headers(): RecordHeaders {
    return { 'gapipe-intended-ts': String(Math.round(this.intendedMs)), 'gapipe-run-id': this.runId };
  }

  /**
   * The event time: carried by events as generated (the bench's visibility tracker reads it for every
   * record); read from the record's own bytes for re-sent copies and malformed records, which only the
   * rare failed-record path asks about.
   */
  get tsMs(): number {
    if (!Number.isNaN(this.eventTsMs)) return this.eventTsMs;
    const value = typeof this.value === 'string' ? Buffer.from(this.value) : this.value;
    const at = value.indexOf(TS_FIELD);
    if (at < 0) return Number.NaN;
    const start = at + TS_FIELD.length;
    return Date.parse(value.toString('latin1', start, value.indexOf(34, start)));
  }

  get priceCents(): number {
    return this.facts >>> 13;
  }

  get recordKind(): RecordKind {
    return RECORD_KINDS[(this.facts >>> 6) & 3] as RecordKind;
  }

  get regionIndex(): number {
    return this.facts & 7;
  }

  get typeIndex(): number {
    return (this.facts >>> 3) & 7;
  }

  get late(): boolean {
    return (this.facts & 256) !== 0;
  }

  get malformedKind(): MalformedKind | undefined {
    return ((this.facts >>> 6) & 3) === KIND_MALFORMED ? MALFORMED_KINDS[(this.facts >>> 9) & 15] : undefined;
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

// Session states, in the low bits of F_STATE; the flags above them.
const OFFLINE = 0;
const LOBBY = 1;
const IN_MATCH = 2;
const STATE_MASK = 3;
const LEVEL_UP_PENDING = 4;
/** The player has a copy waiting to be re-sent with its next record (in `pending`). */
const COPY_PENDING = 8;

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
/** Purchase probability per action, in units of 2⁻³¹. */
const F_PURCHASE = 10;
/** Fixed traits, packed: spender class (2 bits), client version (2), platform (4), country index (from bit 8). */
const F_TRAITS = 11;
/** The player's PRNG state (4 int32s). */
const F_RNG = 12;
const PROBABILITY_SCALE = 2 ** 31;
// Columns of a player's row in `times` (float64): milliseconds from the run's event-time start, and the match count.
const TIME_FIELDS = 4;
const T_SESSION_START = 0;
const T_MATCH_START = 1;
const T_MATCH_NO = 2;

// Pre-encoded pieces of the event text, in field order.
const EVENT_ID_PREFIX = ascii('{"schema":1,"event_id":"');
const TYPE_BYTES = EVENT_TYPES.map((t) => ascii(`","event_type":"${t}","ts":"`));
const AFTER_TS = ascii('",');
const LEAVE_PREFIX = ascii(',"session_length_s":');
const MATCH_PREFIX = ascii(',"match_id":"m-');
const LEVEL_PREFIX = ascii(',"level":');
const QUOTE = 34;
const DASH = 45;
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

/**
 * A copy waits at most this long (intended time) for its player's next record; later it is dropped.
 * Copies thus reach a consumer within 30 s of their original: a consumer allowing 30 s of lateness
 * or more (10 minutes by default) still has the window open and counts the copy as a duplicate.
 */
export const RESEND_WINDOW_MS = 30_000;
/** Out-of-order events are set back by up to max(1 s, 8 mean arrival gaps), never more than this. */
export const OUT_OF_ORDER_MAX_MS = 10_000;
const OUT_OF_ORDER_MIN_SPAN_MS = 1000;
const OUT_OF_ORDER_GAPS = 8;

// Salts of the per-record disorder decisions (recordHash).
const SALT_MALFORMED = 1;
const SALT_OUT_OF_ORDER = 2;
const SALT_OUT_OF_ORDER_BY = 3;
const SALT_LATE = 4;
const SALT_LATE_BY = 5;
const SALT_RESEND = 6;

function xpForNextLevel(level: number): number {
  return 300 + 100 * level;
}

/** A valid event kept to be sent again with its player's next record. */
interface PendingCopy {
  value: Buffer;
  tsMs: number;
  region: number;
  type: number;
  priceCents: number;
  /** Offset (intended time) of the last time it was sent. */
  sentOffset: number;
  group: ResendGroup;
}

export class TrafficGenerator {
  readonly schedule: RateSchedule;
  /** The share of the schedule's arrivals this generator's shard receives, on average. */
  readonly share: number;
  /** The arrival process (see schedule.ts), walked in Λ-space: time is only computed for own arrivals. */
  private readonly arrivalRng: Sfc32;
  /** Λ of the last arrival walked. */
  private expected = 0;
  /** The run ends at this Λ (--duration, or where the stages reach 0/s for good). */
  private readonly expectedLimit: number;
  /** Region and player of each arrival: the walk every shard shares. */
  private readonly who: Sfc32;
  /** Loaded with a player's own state for each of its events (see generate). */
  private readonly playerRng: Sfc32;
  private readonly corruptRng: Sfc32;
  private readonly seed: number;
  private readonly disorderKey: number;
  private readonly shardIndex: number;
  private readonly shardCount: number;
  private readonly pools: IdentityPools;
  private readonly regions: readonly RegionCode[];
  private readonly startTimeMs: number;
  private readonly eventLimit: number;
  private readonly disorder: GeneratorOptions['disorder'];

  // Per-record chances, scaled so the configured fractions hold over all records (see the constructor).
  private readonly malformedChance: number;
  private readonly outOfOrderChance: number;
  private readonly lateChance: number;
  private readonly resendChance: number;

  // The walk and the next arrival of this shard.
  private walkedCount = 0;
  private arrivalsDone = false;
  private nextOffset = Number.POSITIVE_INFINITY;
  private nextPlayer = 0;
  private nextRegion = 0;
  private nextIndex = 0;
  private emitted = 0;
  private intendedBaseMs = 0;
  private runId = '';
  private observer: GroundTruthObserver | undefined;

  // Regions.
  private readonly regionStart: Int32Array;
  private readonly regionCount: Int32Array;
  /** Cumulative region weights (players × activity) of the current simulated minute, ending at 1. */
  private readonly regionCumulative: Float64Array;
  /** Players per unit of `u` within each region's slice of the cumulative weights. */
  private readonly regionScale: Float64Array;
  /** Λ at which the next simulated minute starts (the weights change once per minute). */
  private regionUntilExpected = Number.NEGATIVE_INFINITY;
  private readonly regionJson: string[];

  /**
   * State of this shard's players, one row of PLAYER_FIELDS int32s per player (64 bytes: one cache
   * line), indexed by the player's place in the shard. With a million players the generator is bound
   * by memory latency, and a row per player touches one line where an array per field touched a dozen.
   */
  private readonly world: Int32Array;
  /**
   * Per player: session start, match start (ms from the start) and match count, as doubles. Touched
   * only by joins, leaves and match starts and ends, so they live apart from the hot row.
   */
  private readonly times: Float64Array;
  private readonly ids: PlayerIds;
  private readonly playerFragments: FragmentStore;
  private readonly pending = new Map<number, PendingCopy>();

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
  private genType = 0;
  private genPriceCents = 0;
  /** Payload parameters chosen by the state machine, written after the common fields. */
  private payloadIndex = 0;
  private payloadNumber = 0;

  // Stats.
  private readonly typeCounts = new Float64Array(EVENT_TYPES.length);
  private readonly regionCounts: Float64Array;
  private lateCount = 0;
  private duplicateCount = 0;
  private malformedCount = 0;
  private outOfOrderCount = 0;

  /** `shard`: the players this generator owns (default: all of them). */
  constructor(options: GeneratorOptions, shard: ShardSpec = WHOLE_STREAM) {
    const seed = options.seed >>> 0;
    this.seed = seed;
    this.disorderKey = hashKey(seed, STREAMS.disorder);
    this.shardIndex = shard.index;
    this.shardCount = shard.count;
    this.share = 1 / shard.count;
    this.schedule = new RateSchedule(options.startRate, options.stages);
    this.arrivalRng = new Sfc32(seed, STREAMS.arrivals);
    this.expectedLimit =
      options.durationMs !== undefined
        ? this.schedule.expectedEvents(options.durationMs)
        : this.schedule.finalRate > 0
          ? Number.POSITIVE_INFINITY
          : this.schedule.totalExpected;
    this.who = new Sfc32(seed, STREAMS.players);
    this.playerRng = new Sfc32(seed, STREAMS.content);
    this.corruptRng = new Sfc32(seed, STREAMS.disorder);
    this.regions = options.regions;
    this.startTimeMs = Math.floor(options.startTimeMs);
    this.eventLimit = options.events ?? Number.POSITIVE_INFINITY;
    this.disorder = options.disorder;

    // Copies replace records that would have been fresh events, and malformed records replace fresh
    // ones too: per-record chances are scaled so each kind ends up at its configured share of all
    // records. Late events are not re-sent (a copy arriving a minute after a late original could
    // fall outside the consumer's allowed lateness where the original did not).
    const { duplicates, malformed, outOfOrder, late } = options.disorder;
    const fresh = 1 - duplicates - malformed;
    this.malformedChance = duplicates < 1 ? Math.min(1, malformed / (1 - duplicates)) : 0;
    this.outOfOrderChance = fresh > 0 ? Math.min(1, outOfOrder / fresh) : 0;
    this.lateChance = late;
    const resendable = duplicates + fresh - late * Math.max(0, fresh - outOfOrder);
    this.resendChance = resendable > 0 ? Math.min(1, duplicates / resendable) : 0;

    const players = options.players;
    const counts = splitPlayers(players, this.regions);
    this.pools = buildIdentityPools(seed, this.regions, counts);
    this.regionStart = new Int32Array(counts.length);
    this.regionCount = Int32Array.from(counts);
    for (let r = 1; r < counts.length; r++) {
      this.regionStart[r] = (this.regionStart[r - 1] as number) + (counts[r - 1] as number);
    }
    this.regionCumulative = new Float64Array(counts.length);
    this.regionScale = new Float64Array(counts.length);
    this.regionJson = this.regions.map((r) => `,"region":"${r}","country":"`);
    this.regionCounts = new Float64Array(this.regions.length);

    const own = playersInShard(players, shard);
    this.world = new Int32Array(own * PLAYER_FIELDS);
    this.times = new Float64Array(own * TIME_FIELDS);
    this.ids = new PlayerIds(players);
    this.playerFragments = new FragmentStore(own);

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

    this.initPlayers();
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

  /** Offset (ms after the start) of this shard's next record's intended send time; Infinity when finished. */
  get nextOffsetMs(): number {
    return this.nextOffset;
  }

  get done(): boolean {
    return this.nextOffset === Number.POSITIVE_INFINITY;
  }

  /** Records produced so far (by this shard). */
  get produced(): number {
    return this.emitted;
  }

  /** Arrivals of the whole stream walked so far (this shard's and the others'). */
  get walked(): number {
    return this.walkedCount;
  }

  /**
   * Appends to `out` the records due at or before `untilOffsetMs`, at most `max` of them; returns how
   * many. Pass Infinity to take records regardless of their time (unpaced runs, benchmarks).
   */
  fill(out: SinkRecord[], untilOffsetMs: number, max: number): number {
    let n = 0;
    // nextOffset is Infinity once finished, which `<= Infinity` alone would not stop.
    while (n < max && this.nextOffset <= untilOffsetMs && this.nextOffset !== Number.POSITIVE_INFINITY) {
      out.push(this.slot());
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
    const d = this.disorder;
    let back = d.late > 0 ? d.lateByMs.max : 0;
    if (d.outOfOrder > 0) back = Math.max(back, OUT_OF_ORDER_MAX_MS);
    // A copy of an out-of-order event is sent up to the re-send window after it.
    if (d.duplicates > 0)
      back = Math.max(back, RESEND_WINDOW_MS + (d.outOfOrder > 0 ? OUT_OF_ORDER_MAX_MS : 0));
    return this.startTimeMs + this.nextOffset - back - 1;
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

  // --- the walk ------------------------------------------------------------------------------------------

  /**
   * Walks the arrivals up to the next one whose player this shard owns. Every shard walks every
   * arrival, so this is kept to an exponential and one uniform draw each: the arrival's Λ (its time
   * is computed only for this shard's own arrivals, Λ⁻¹ being monotone), and one number that picks
   * the region by its weight and the player within the region's slice of it.
   */
  private advanceArrivals(): void {
    const cumulative = this.regionCumulative;
    const last = cumulative.length - 1;
    while (!this.arrivalsDone) {
      if (this.walkedCount >= this.eventLimit) break;
      this.expected += this.arrivalRng.exponential();
      if (!(this.expected < this.expectedLimit)) break;
      const index = this.walkedCount++;
      if (this.expected >= this.regionUntilExpected) this.weighRegions();
      const u = this.who.float();
      let region = 0;
      while (region < last && u >= (cumulative[region] as number)) region++;
      const low = region === 0 ? 0 : (cumulative[region - 1] as number);
      const count = this.regionCount[region] as number;
      const k = Math.min(count - 1, Math.floor((u - low) * (this.regionScale[region] as number)));
      const player = (this.regionStart[region] as number) + k;
      if (this.shardCount === 1 || player % this.shardCount === this.shardIndex) {
        this.nextOffset = this.schedule.timeOfExpected(this.expected);
        this.nextPlayer = player;
        this.nextRegion = region;
        this.nextIndex = index;
        return;
      }
    }
    this.arrivalsDone = true;
    this.nextOffset = Number.POSITIVE_INFINITY;
  }

  /**
   * The region weights of the simulated minute the current arrival falls in (players × activity at
   * that time of day), and the Λ at which the next minute starts.
   */
  private weighRegions(): void {
    const tsMs = Math.floor(this.startTimeMs + this.schedule.timeOfExpected(this.expected));
    let total = 0;
    for (let r = 0; r < this.regions.length; r++) {
      const weight =
        (this.regionCount[r] as number) *
        regionActivityAt(REGION_PROFILES[this.regions[r] as RegionCode], tsMs);
      total += weight;
      this.regionCumulative[r] = total;
    }
    if (!(total > 0)) {
      // No activity anywhere (not in the shipped curves): fall back to the player counts.
      for (let r = 0; r < this.regions.length; r++) {
        total += this.regionCount[r] as number;
        this.regionCumulative[r] = total;
      }
    }
    let low = 0;
    for (let r = 0; r < this.regions.length; r++) {
      const high = (this.regionCumulative[r] as number) / total;
      this.regionCumulative[r] = high;
      this.regionScale[r] = high > low ? (this.regionCount[r] as number) / (high - low) : 0;
      low = high;
    }
    this.regionCumulative[this.regions.length - 1] = 1;
    const untilMs = (Math.floor(tsMs / 60_000) + 1) * 60_000;
    this.regionUntilExpected = this.schedule.expectedEvents(untilMs - this.startTimeMs);
  }

  /** The player's place in this shard (its row). */
  private local(player: number): number {
    return this.shardCount === 1 ? player : (player - this.shardIndex) / this.shardCount;
  }

  // --- records and disorder ------------------------------------------------------------------------------

  /** The record of the next arrival (this shard's). */
  private slot(): SinkRecord {
    const offset = this.nextOffset;
    const player = this.nextPlayer;
    const region = this.nextRegion;
    const index = this.nextIndex;
    const intended = this.intendedBaseMs + offset;
    const local = this.local(player);
    const o = local * PLAYER_FIELDS;
    const world = this.world;

    if (((world[o + F_STATE] as number) & COPY_PENDING) !== 0) {
      world[o + F_STATE] = (world[o + F_STATE] as number) & ~COPY_PENDING;
      const copy = this.pending.get(local) as PendingCopy;
      this.pending.delete(local);
      if (offset - copy.sentOffset <= RESEND_WINDOW_MS)
        return this.emitCopy(copy, local, index, offset, intended);
    }

    const key = this.disorderKey;
    if (this.malformedChance > 0 && recordHash(key, index, SALT_MALFORMED) < this.malformedChance) {
      return this.emitMalformed(local, player, region, index, offset, intended);
    }
    let setbackMs = 0;
    let late = false;
    if (this.outOfOrderChance > 0 && recordHash(key, index, SALT_OUT_OF_ORDER) < this.outOfOrderChance) {
      setbackMs = this.outOfOrderSetback(index, offset);
      this.outOfOrderCount++;
      this.observer?.outOfOrder();
    } else if (this.lateChance > 0 && recordHash(key, index, SALT_LATE) < this.lateChance) {
      const { min, max } = this.disorder.lateByMs;
      setbackMs = Math.round(min + (max - min) * recordHash(key, index, SALT_LATE_BY));
      late = true;
    }
    const value = this.generate(local, player, region, offset, setbackMs);
    this.recordValid(region, player, late);
    let group: ResendGroup | undefined;
    if (!late && this.resendChance > 0 && recordHash(key, index, SALT_RESEND) < this.resendChance) {
      group = { sent: 1, failed: 0, priceCents: this.genPriceCents, late: false };
      this.holdCopy(local, {
        value,
        tsMs: this.genTsMs,
        region,
        type: this.genType,
        priceCents: this.genPriceCents,
        sentOffset: offset,
        group,
      });
    }
    return new GeneratedRecord(
      player,
      this.ids,
      value,
      intended,
      this.runId,
      packFacts(region, this.genType, KIND_EVENT, late, this.genPriceCents),
      group,
      this.genTsMs,
    );
  }

  /** How far an out-of-order event's time is set back: behind about 1–8 of the arrivals that followed it. */
  private outOfOrderSetback(index: number, offset: number): number {
    const rate = this.schedule.rateAt(offset);
    const gapsMs = rate > 0 ? (OUT_OF_ORDER_GAPS * 1000) / rate : OUT_OF_ORDER_MAX_MS;
    const span = Math.min(OUT_OF_ORDER_MAX_MS, Math.max(OUT_OF_ORDER_MIN_SPAN_MS, gapsMs));
    return 1 + Math.floor((span - 1) * recordHash(this.disorderKey, index, SALT_OUT_OF_ORDER_BY));
  }

  private holdCopy(local: number, copy: PendingCopy): void {
    this.pending.set(local, copy);
    const o = local * PLAYER_FIELDS;
    this.world[o + F_STATE] = (this.world[o + F_STATE] as number) | COPY_PENDING;
  }

  private emitCopy(
    copy: PendingCopy,
    local: number,
    index: number,
    offset: number,
    intended: number,
  ): SinkRecord {
    copy.group.sent++;
    this.duplicateCount++;
    this.observer?.duplicate(copy.tsMs, copy.region, copy.type, copy.group);
    // A client may send it yet again with its next record.
    if (recordHash(this.disorderKey, index, SALT_RESEND) < this.resendChance) {
      copy.sentOffset = offset;
      this.holdCopy(local, copy);
    }
    return new GeneratedRecord(
      this.nextPlayer,
      this.ids,
      copy.value,
      intended,
      this.runId,
      packFacts(copy.region, copy.type, KIND_DUPLICATE, false, copy.priceCents),
      copy.group,
    );
  }

  private emitMalformed(
    local: number,
    player: number,
    region: number,
    index: number,
    offset: number,
    intended: number,
  ): SinkRecord {
    const valid = this.generate(local, player, region, offset, 0);
    this.corruptRng.reseed(this.seed, STREAMS.disorder, index);
    const { kind, value } = corruptEvent(valid.toString('utf8'), this.corruptRng);
    this.malformedCount++;
    this.observer?.malformed(kind);
    return new GeneratedRecord(
      player,
      this.ids,
      value,
      intended,
      this.runId,
      packFacts(0, 0, KIND_MALFORMED, false, 0, MALFORMED_KINDS.indexOf(kind)),
      undefined,
    );
  }

  private recordValid(region: number, player: number, late: boolean): void {
    this.typeCounts[this.genType] = (this.typeCounts[this.genType] as number) + 1;
    this.regionCounts[region] = (this.regionCounts[region] as number) + 1;
    if (late) this.lateCount++;
    this.observer?.valid(this.genTsMs, region, this.genType, player, this.genPriceCents, late);
  }

  // --- the world ----------------------------------------------------------------------------------------

  /** This shard's players, each from its own stream: their traits and where the run finds them. */
  private initPlayers(): void {
    const world = this.world;
    const rng = this.playerRng;
    const spenderChoice = new WeightedChoice(SPENDER_SHARES);
    const versionChoice = new WeightedChoice(CLIENT_VERSIONS.map(([, w]) => w));
    const count = this.shardCount;
    for (let r = 0; r < this.regions.length; r++) {
      const profile = REGION_PROFILES[this.regions[r] as RegionCode];
      const platformChoice = new WeightedChoice(profile.platformMix);
      const countryPoolSize = this.pools.regions[profile.code].countryPool.length;
      // Players already in a session when the run starts, so the stream does not open with a wall of joins.
      const onlineShare = 0.3 + 0.6 * regionActivityAt(profile, this.startTimeMs);
      const start = this.regionStart[r] as number;
      const end = start + (this.regionCount[r] as number);
      const first = start + ((((this.shardIndex - start) % count) + count) % count);
      for (let p = first; p < end; p += count) {
        const local = this.local(p);
        const o = local * PLAYER_FIELDS;
        rng.reseed(this.seed, STREAMS.content, p);
        const spender = spenderChoice.pick(rng.float());
        const base = SPENDER_PURCHASE_PROBABILITY[spender] as number;
        const probability = base === 0 ? 0 : Math.min(0.5, base * rng.lognormal(0, 0.8));
        world[o + F_PURCHASE] = Math.round(probability * PROBABILITY_SCALE);
        const platform = platformChoice.pick(rng.float());
        const country = rng.int(countryPoolSize);
        const version = versionChoice.pick(rng.float());
        world[o + F_TRAITS] = spender | (version << 2) | (platform << 4) | (country << 8);
        const level = 1 + Math.min(199, rng.geometric(14));
        world[o + F_LEVEL] = level;
        world[o + F_XP] = rng.int(xpForNextLevel(level));
        if (rng.chance(onlineShare)) {
          world[o + F_SESSION_NO] = 1;
          this.times[local * TIME_FIELDS + T_SESSION_START] = -rng.int(20 * 60_000);
          world[o + F_MATCHES_LEFT] = 1 + rng.geometric(EXTRA_MATCHES_MEAN);
          world[o + F_STATE] = LOBBY;
          if (rng.chance(0.7)) this.beginMatch(local, -rng.int(5 * 60_000), rng);
        }
        rng.save(world, o + F_RNG);
      }
    }
  }

  private setState(o: number, state: number): void {
    this.world[o + F_STATE] = ((this.world[o + F_STATE] as number) & ~STATE_MASK) | state;
  }

  /** Starts a match for the player in row `local` at `atMs` after the start. */
  private beginMatch(local: number, atMs: number, rng: Sfc32): void {
    const world = this.world;
    const o = local * PLAYER_FIELDS;
    const t = local * TIME_FIELDS;
    this.setState(o, IN_MATCH);
    this.times[t + T_MATCH_NO] = (this.times[t + T_MATCH_NO] as number) + 1;
    this.times[t + T_MATCH_START] = atMs;
    world[o + F_MODE] = this.modeChoice.pick(rng.float());
    world[o + F_ACTIONS_LEFT] = MIN_ACTIONS + Math.min(60_000, rng.geometric(EXTRA_ACTIONS_MEAN));
  }

  /**
   * Builds the next event of `player` (row `local`) for the arrival at `offset`, with its event time
   * set back by `setbackMs`; sets the gen* fields. Draws only from the player's own stream.
   */
  private generate(local: number, player: number, region: number, offset: number, setbackMs: number): Buffer {
    const rng = this.playerRng;
    const world = this.world;
    const o = local * PLAYER_FIELDS;
    rng.load(world, o + F_RNG);
    const nowMs = Math.floor(this.startTimeMs + offset);
    const type = this.step(local, nowMs - this.startTimeMs, rng);

    const tsMs = nowMs - setbackMs;
    this.genTsMs = tsMs;
    this.genType = type;

    const w = this.writer;
    w.begin();
    w.bytes(EVENT_ID_PREFIX);
    w.uuid(rng);
    w.bytes(TYPE_BYTES[type] as Buffer);
    if (setbackMs > 0) this.iso.writeOutlier(w, tsMs);
    else this.iso.write(w, tsMs);
    w.bytes(AFTER_TS);
    if (world[o + F_FRAGMENT_LENGTH] === 0) this.buildPlayerFragment(local, player, region);
    // Ends with the player's part of the session id.
    this.playerFragments.writeTo(
      w,
      local,
      world[o + F_FRAGMENT_CHUNK] as number,
      world[o + F_FRAGMENT_OFFSET] as number,
      world[o + F_FRAGMENT_LENGTH] as number,
    );
    w.uint(world[o + F_SESSION_NO] as number, 4);
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
        this.writeMatchId(w, local, player);
        w.bytes(this.modeBytes[world[o + F_MODE] as number] as Buffer);
        break;
      case MATCH_END:
        this.writeMatchId(w, local, player);
        w.bytes(this.modeBytes[world[o + F_MODE] as number] as Buffer);
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
    rng.save(world, o + F_RNG);
    return w.end();
  }

  /** "m-<player>-<the player's match number>": unique in the run without a counter shared by shards. */
  private writeMatchId(w: ByteWriter, local: number, player: number): void {
    w.bytes(MATCH_PREFIX);
    w.uint(player, this.ids.width);
    w.byte(DASH);
    w.uint(this.times[local * TIME_FIELDS + T_MATCH_NO] as number);
  }

  /**
   * One step of the player's session state machine (row `local`), at `nowMs` after the start: returns
   * the event type and leaves its payload parameters in payloadIndex / payloadNumber / genPriceCents.
   */
  private step(local: number, nowMs: number, rng: Sfc32): number {
    const world = this.world;
    const o = local * PLAYER_FIELDS;
    const t = local * TIME_FIELDS;
    this.genPriceCents = 0;
    const word = world[o + F_STATE] as number;
    const state = word & STATE_MASK;
    if ((word & LEVEL_UP_PENDING) !== 0 && state !== OFFLINE) {
      world[o + F_STATE] = word & ~LEVEL_UP_PENDING;
      this.payloadNumber = world[o + F_LEVEL] as number;
      return LEVEL_UP;
    }
    if (state === OFFLINE) {
      this.setState(o, LOBBY);
      world[o + F_SESSION_NO] = (world[o + F_SESSION_NO] as number) + 1;
      this.times[t + T_SESSION_START] = nowMs;
      world[o + F_MATCHES_LEFT] = 1 + rng.geometric(EXTRA_MATCHES_MEAN);
      this.payloadIndex = ((world[o + F_TRAITS] as number) >>> 2) & 3;
      return JOIN;
    }
    if (state === LOBBY) {
      if (rng.float() * PROBABILITY_SCALE < (world[o + F_PURCHASE] as number)) return this.purchase(o, rng);
      if ((world[o + F_MATCHES_LEFT] as number) > 0) {
        this.beginMatch(local, nowMs, rng);
        return MATCH_START;
      }
      this.setState(o, OFFLINE);
      this.payloadNumber = nowMs - (this.times[t + T_SESSION_START] as number);
      return LEAVE;
    }
    if ((world[o + F_ACTIONS_LEFT] as number) === 0) {
      this.setState(o, LOBBY);
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
      world[o + F_STATE] = (world[o + F_STATE] as number) | LEVEL_UP_PENDING;
    } else {
      world[o + F_XP] = total;
    }
    this.payloadIndex = enemy * WEAPONS.length + rng.int(WEAPONS.length);
    this.payloadNumber = xp;
    return KILL;
  }

  private purchase(o: number, rng: Sfc32): number {
    const spender = (this.world[o + F_TRAITS] as number) & 3;
    const tier = (this.tierChoice[spender] as WeightedChoice).pick(rng.float());
    this.payloadNumber = tier;
    this.payloadIndex = rng.int((this.itemPayloads[tier] as Buffer[]).length);
    this.genPriceCents = PRICE_POINTS_CENTS[tier] as number;
    return PURCHASE;
  }

  private buildPlayerFragment(local: number, player: number, region: number): void {
    const identities = this.pools.regions[this.regions[region] as RegionCode];
    const k = player - (this.regionStart[region] as number);
    const names = identities.usernames;
    const username = `${names[k % names.length]}${k >= names.length ? Math.floor(k / names.length) : ''}`;
    const o = local * PLAYER_FIELDS;
    const traits = this.world[o + F_TRAITS] as number;
    const fragments = this.playerFragments;
    fragments.add(
      local,
      `"player_id":"${this.ids.id(player)}","username":${JSON.stringify(username)}${
        this.regionJson[region]
      }${identities.countryPool[traits >>> 8]}","platform":"${
        PLATFORMS[(traits >>> 4) & 15]
      }","session_id":"s-${String(player).padStart(this.ids.width, '0')}-`,
    );
    this.world[o + F_FRAGMENT_CHUNK] = fragments.lastChunk;
    this.world[o + F_FRAGMENT_OFFSET] = fragments.lastOffset;
    this.world[o + F_FRAGMENT_LENGTH] = fragments.lastLength;
  }
}
