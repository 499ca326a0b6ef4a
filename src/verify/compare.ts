/**
 * The comparison behind `gapipe verify`: the aggregates a consumer wrote, against the ground truth
 * the simulator counted. Pure: no I/O, so every rule is tested on plain objects.
 *
 * Rules (also printed by `gapipe verify --help`):
 * - A cell is (window_start, region, event_type); window_start is normalised through `Date`, so
 *   "2026-11-21T20:00:00Z", "2026-11-21T20:00:00.000Z" and epoch millis name the same window. The
 *   documents of a cell (one per partition) are summed; let A be the sums, M the manifest window.
 * - events: expected M.events, actual A.events + A.late_events. Late events are records the
 *   consumer rejected because they arrived after their window closed; it counts them on the
 *   document (and sends them to the late topic), so they still belong to the cell.
 * - revenue: expected M.revenue_cents, actual A.revenue_cents + A.late_revenue_cents. Whole cents
 *   only; revenue_usd (a float) is never compared.
 * - duplicates: expected M.duplicates, actual A.duplicates.
 * - unique_players: without late events, A.unique_players must equal M.unique_players. With
 *   A.late_events > 0 the late events' players cannot be merged into the count, so it is a bound:
 *   A.unique_players ≤ M.unique_players ≤ A.unique_players + A.late_events. A cell that holds
 *   its bound (and matches otherwise) is "bounded", not a difference; a broken bound is one.
 * - A cell of the manifest without documents is "missing" (actual 0); a cell with documents that
 *   the manifest does not list is "unexpected" (expected 0).
 * - Documents not yet `final` are counted, not held against the result: the consumer keeps the last
 *   allowed-lateness worth of event time (10 minutes by default) open.
 * - Producer failures: records the simulator's producer gave up on never reached Kafka, and the
 *   manifest has already taken them out of events, revenue and duplicates (M.producer_failed says
 *   how many records of the cell). Those fields are compared exactly as above. Unique players cannot
 *   be taken out, so M.unique_players is then an upper bound: the true count U lies in
 *   [M.unique_players − M.producer_failed, M.unique_players], and the consumer's count must fit it
 *   (with late events: A.unique_players ≤ U ≤ A.unique_players + A.late_events for some such U). A
 *   cell whose every record failed has no events to expect; without documents it is not "missing".
 *   These cells are listed as the producer's failures, never as the pipeline's differences.
 * - Optional document fields (docs/engines.md, "What is optional"): whether the engine writes one is
 *   decided per read, over all the documents compared — if any carries it, the engine reports it and a
 *   document without it counts as 0; if none does (and there are documents), the engine leaves it out,
 *   and `omittedFields` and `notes` say so:
 *   - duplicates left out: the duplicates field is not compared.
 *   - late_events left out: the engine drops late events without counting them, so a cell the
 *     simulator sent late events into (M.late_events > 0) may come out short by at most those events.
 *     Let S = M.events − A.events, the events missing. events: M.events − M.late_events ≤ A.events ≤
 *     M.events. revenue: A.revenue_cents ≤ M.revenue_cents, and equal when S = 0 — the manifest does
 *     not record what the late events were worth, so with S > 0 the only lower bound is 0. unique
 *     players: A.unique_players ≤ M.unique_players ≤ A.unique_players + min(S, M.late_events). A cell
 *     short within these bounds is "bounded"; outside them its field is a `bound` difference (with
 *     `expectedMin`). A cell whose every event was late may have no documents at all: it is bounded,
 *     not missing. Cells without injected late events are compared exactly.
 *   - final left out: every document counts as not final, which is informational anyway.
 * Each differing field of a cell is one `VerifyDifference`; a cell with any of them is "differing".
 *
 * Documents of another run (`findOtherRuns`): every document carries the run id of its cell's first
 * record, and the manifest its run's. Documents of the topic with another run id, or with a window
 * outside the manifest's windows, hold records this manifest does not know about — usually an earlier
 * `gapipe simulate` into the same topic — and explain differences that are not the pipeline's.
 */
import type { AggregateDoc } from '../pipeline/types.js';
import { type ManifestWindow, WINDOW_MS } from '../simulators/manifest.js';

export const VERIFY_FIELDS = ['events', 'revenue_cents', 'duplicates', 'unique_players'] as const;
export type VerifyField = (typeof VERIFY_FIELDS)[number];

/** The optional fields of an aggregates document that decide how cells are compared. */
export const OPTIONAL_DOC_FIELDS = ['duplicates', 'late_events', 'final'] as const;
export type OptionalDocField = (typeof OPTIONAL_DOC_FIELDS)[number];

/** What verify says about each optional field the engine leaves out (`AggregateComparison.notes`). */
export const OMITTED_FIELD_NOTES: Record<OptionalDocField, string> = {
  duplicates: 'the engine does not report duplicates: not compared',
  late_events:
    'the engine does not report late events: a cell the simulator sent late events into may be short by at most those events (revenue: at most the expected; unique players: a bound), and is then counted as bounded',
  final:
    'the engine does not mark documents final: every document counts as not final, which is never a difference',
};

/**
 * mismatch: both sides have the cell and the field differs. missing: the manifest has the cell, the
 * index does not. unexpected: the other way round. bound: a field outside the range it is allowed —
 * unique players beyond what late events or producer failures allow, or (for an engine that does not
 * report late events) events or revenue outside what the cell's injected late events allow.
 */
export type DifferenceKind = 'mismatch' | 'missing' | 'unexpected' | 'bound';

export interface VerifyDifference {
  /** ISO-8601, as `Date#toISOString` writes it. */
  window_start: string;
  region: string;
  event_type: string;
  field: VerifyField;
  expected: number;
  /** For events and revenue_cents: accepted + late. For a `bound` difference: the lower bound. */
  actual: number;
  /** events and revenue_cents: the part the consumer accepted into the window. */
  accepted?: number;
  /** events and revenue_cents: the part it counted as late. */
  late?: number;
  /** `bound` differences: the upper bound (actual unique players + late events). */
  actualMax?: number;
  /**
   * `bound` differences: the lowest count the manifest allows — unique players in a cell with producer
   * failures; events and revenue_cents in a cell with late events the engine does not report.
   */
  expectedMin?: number;
  kind: DifferenceKind;
}

export interface VerifyCellCounts {
  /** Cells in the manifest or in the index (the union). */
  compared: number;
  /** Cells without any difference; includes the bounded ones. */
  matching: number;
  /** Cells with at least one difference; includes missing and unexpected ones. */
  differing: number;
  /**
   * Matching cells that could only be checked against a bound: unique players with late events or
   * producer failures; events, revenue and unique players short by late events the engine dropped uncounted.
   */
  bounded: number;
  missing: number;
  unexpected: number;
  /** Cells with records the producer gave up on (matching or not): the producer's failures, not the pipeline's. */
  producerFailed?: number;
}

/** A cell some of whose records never reached Kafka because the producer gave up on them. */
export interface ProducerFailedCell {
  window_start: string;
  region: string;
  event_type: string;
  /** Records of the cell the producer gave up on. */
  records: number;
}

export interface VerifyTotals {
  /** Summed over the manifest's windows. */
  expected: {
    events: number;
    revenueCents: number;
    duplicates: number;
    /** Events the simulator sent late on purpose (whether the consumer found them late depends on its allowed lateness). */
    lateEvents: number;
    /** Records of these cells the producer gave up on (already taken out of the counts above). */
    producerFailed?: number;
  };
  /** Summed over the compared documents. */
  actual: {
    /** acceptedEvents + lateEvents. */
    events: number;
    acceptedEvents: number;
    lateEvents: number;
    /** acceptedRevenueCents + lateRevenueCents. */
    revenueCents: number;
    acceptedRevenueCents: number;
    lateRevenueCents: number;
    duplicates: number;
  };
}

export interface AggregateComparison {
  ok: boolean;
  /** Documents compared. */
  docs: number;
  cells: VerifyCellCounts;
  totals: VerifyTotals;
  /** Documents not yet final (informational). */
  notFinal: number;
  /** Sorted by window, region, event type, then field. */
  differences: VerifyDifference[];
  /** Cells with producer failures, sorted like the differences. */
  producerFailures?: ProducerFailedCell[];
  /**
   * Optional fields no compared document carries (in `OPTIONAL_DOC_FIELDS` order): the engine leaves
   * them out, and the comparison adapts as this module's header says. Empty when there are no documents.
   */
  omittedFields: OptionalDocField[];
  /** One line per omitted field, saying what verify did instead (`OMITTED_FIELD_NOTES`). */
  notes: string[];
}

/** Which optional fields the engine writes, decided once per read. */
interface EngineReports {
  duplicates: boolean;
  lateEvents: boolean;
}

/** The sums of one cell's documents. */
interface CellSums {
  events: number;
  lateEvents: number;
  revenueCents: number;
  lateRevenueCents: number;
  duplicates: number;
  uniquePlayers: number;
}

interface Cell {
  window_start: string;
  region: string;
  event_type: string;
}

/** Normalises a window start (ISO text or epoch millis) to `toISOString` form; unparseable text is kept. */
export function normaliseWindowStart(value: string | number): string {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString();
}

// A separator that cannot occur in an ISO date, a region or an event type.
const SEP = '\u0000';

function cellKey(windowStart: string, region: string, eventType: string): string {
  return `${windowStart}${SEP}${region}${SEP}${eventType}`;
}

/**
 * The optional fields none of `docs` carries (null counts as absent). With no documents there is
 * nothing to tell from, and none is taken as left out.
 */
export function omittedDocFields(docs: readonly AggregateDoc[]): OptionalDocField[] {
  if (docs.length === 0) return [];
  return OPTIONAL_DOC_FIELDS.filter((field) =>
    docs.every((doc) => (doc as Partial<AggregateDoc>)[field] === undefined || doc[field] === null),
  );
}

/**
 * Compares the documents of one topic (tumbling windows of the manifest's size, already filtered)
 * with the manifest's windows by the rules in this module's header.
 */
export function compareAggregates(
  windows: readonly ManifestWindow[],
  docs: readonly AggregateDoc[],
): AggregateComparison {
  const omittedFields = omittedDocFields(docs);
  const reports: EngineReports = {
    duplicates: !omittedFields.includes('duplicates'),
    lateEvents: !omittedFields.includes('late_events'),
  };
  const expected = new Map<string, { cell: Cell; window: ManifestWindow }>();
  for (const window of windows) {
    const cell = {
      window_start: normaliseWindowStart(window.window_start),
      region: window.region,
      event_type: window.event_type,
    };
    expected.set(cellKey(cell.window_start, cell.region, cell.event_type), { cell, window });
  }

  const actual = new Map<string, { cell: Cell; sums: CellSums }>();
  let notFinal = 0;
  for (const doc of docs) {
    const windowStart = normaliseWindowStart(doc.window_start);
    const key = cellKey(windowStart, doc.region, doc.event_type);
    let entry = actual.get(key);
    if (!entry) {
      entry = {
        cell: { window_start: windowStart, region: doc.region, event_type: doc.event_type },
        sums: {
          events: 0,
          lateEvents: 0,
          revenueCents: 0,
          lateRevenueCents: 0,
          duplicates: 0,
          uniquePlayers: 0,
        },
      };
      actual.set(key, entry);
    }
    // Fields an older consumer did not write count as 0.
    entry.sums.events += doc.events ?? 0;
    entry.sums.lateEvents += doc.late_events ?? 0;
    entry.sums.revenueCents += doc.revenue_cents ?? 0;
    entry.sums.lateRevenueCents += doc.late_revenue_cents ?? 0;
    entry.sums.duplicates += doc.duplicates ?? 0;
    entry.sums.uniquePlayers += doc.unique_players ?? 0;
    if (doc.final !== true) notFinal++;
  }

  const totals: VerifyTotals = {
    expected: { events: 0, revenueCents: 0, duplicates: 0, lateEvents: 0, producerFailed: 0 },
    actual: {
      events: 0,
      acceptedEvents: 0,
      lateEvents: 0,
      revenueCents: 0,
      acceptedRevenueCents: 0,
      lateRevenueCents: 0,
      duplicates: 0,
    },
  };
  for (const { window } of expected.values()) {
    totals.expected.events += window.events;
    totals.expected.revenueCents += window.revenue_cents;
    totals.expected.duplicates += window.duplicates;
    totals.expected.lateEvents += window.late_events;
    totals.expected.producerFailed = (totals.expected.producerFailed ?? 0) + (window.producer_failed ?? 0);
  }
  for (const { sums } of actual.values()) {
    totals.actual.acceptedEvents += sums.events;
    totals.actual.lateEvents += sums.lateEvents;
    totals.actual.acceptedRevenueCents += sums.revenueCents;
    totals.actual.lateRevenueCents += sums.lateRevenueCents;
    totals.actual.duplicates += sums.duplicates;
  }
  totals.actual.events = totals.actual.acceptedEvents + totals.actual.lateEvents;
  totals.actual.revenueCents = totals.actual.acceptedRevenueCents + totals.actual.lateRevenueCents;

  const cells: VerifyCellCounts = {
    compared: 0,
    matching: 0,
    differing: 0,
    bounded: 0,
    missing: 0,
    unexpected: 0,
    producerFailed: 0,
  };
  const differences: VerifyDifference[] = [];
  const producerFailures: ProducerFailedCell[] = [];
  const keys = [...new Set([...expected.keys(), ...actual.keys()])].sort(compareKeys);
  for (const key of keys) {
    const manifest = expected.get(key);
    const found = actual.get(key);
    cells.compared++;
    let cellDifferences: VerifyDifference[];
    let bounded = false;
    const failedRecords = manifest?.window.producer_failed ?? 0;
    if (manifest && failedRecords > 0) {
      cells.producerFailed = (cells.producerFailed ?? 0) + 1;
      producerFailures.push({ ...manifest.cell, records: failedRecords });
    }
    const lateOnly = manifest && !found ? allowedAbsent(manifest.cell, manifest.window, reports) : undefined;
    if (manifest && found) {
      ({ differences: cellDifferences, bounded } = compareCell(
        manifest.cell,
        manifest.window,
        found.sums,
        reports,
      ));
    } else if (manifest && nothingArrived(manifest.window)) {
      // Every record of the cell failed in the producer: no documents is the right answer.
      cellDifferences = [];
    } else if (lateOnly) {
      cellDifferences = [];
      bounded = lateOnly.bounded;
    } else if (manifest) {
      cells.missing++;
      cellDifferences = missingCell(manifest.cell, manifest.window, reports);
    } else {
      const { cell, sums } = found as { cell: Cell; sums: CellSums };
      cells.unexpected++;
      cellDifferences = unexpectedCell(cell, sums);
    }
    if (cellDifferences.length > 0) {
      cells.differing++;
      differences.push(...cellDifferences);
    } else {
      cells.matching++;
      if (bounded) cells.bounded++;
    }
  }

  return {
    ok: differences.length === 0,
    docs: docs.length,
    cells,
    totals,
    notFinal,
    differences,
    producerFailures,
    omittedFields,
    notes: omittedFields.map((field) => OMITTED_FIELD_NOTES[field]),
  };
}

const NO_DOCUMENTS: CellSums = {
  events: 0,
  lateEvents: 0,
  revenueCents: 0,
  lateRevenueCents: 0,
  duplicates: 0,
  uniquePlayers: 0,
};

/**
 * A manifest cell without documents that an engine dropping late events uncounted may rightly leave
 * unwritten (all its events were late): the comparison with nothing found, when it holds.
 */
function allowedAbsent(
  cell: Cell,
  window: ManifestWindow,
  reports: EngineReports,
): { bounded: boolean } | undefined {
  if (reports.lateEvents || window.late_events === 0) return undefined;
  const { differences, bounded } = compareCell(cell, window, NO_DOCUMENTS, reports);
  return differences.length === 0 ? { bounded } : undefined;
}

/** A cell of producer failures only: none of its records reached Kafka. */
function nothingArrived(window: ManifestWindow): boolean {
  return (window.producer_failed ?? 0) > 0 && window.events === 0 && window.duplicates === 0;
}

function compareCell(
  cell: Cell,
  window: ManifestWindow,
  sums: CellSums,
  reports: EngineReports,
): { differences: VerifyDifference[]; bounded: boolean } {
  const differences: VerifyDifference[] = [];
  // Late events the engine may have dropped without a trace: only where the simulator sent some.
  const uncountedLate = reports.lateEvents ? 0 : window.late_events;
  const events = sums.events + sums.lateEvents;
  const eventsMin = window.events - uncountedLate;
  if (events > window.events || events < eventsMin) {
    differences.push({
      ...cell,
      field: 'events',
      expected: window.events,
      actual: events,
      accepted: sums.events,
      late: sums.lateEvents,
      ...(uncountedLate > 0
        ? { expectedMin: eventsMin, kind: 'bound' as const }
        : { kind: 'mismatch' as const }),
    });
  }
  // Events missing within the allowance (more is already a difference above).
  const droppedLate = Math.min(uncountedLate, Math.max(0, window.events - events));
  const revenue = sums.revenueCents + sums.lateRevenueCents;
  // The manifest does not record what the late events were worth: with some missing, any shortfall fits.
  const revenueMin = droppedLate > 0 ? 0 : window.revenue_cents;
  if (revenue > window.revenue_cents || revenue < revenueMin) {
    differences.push({
      ...cell,
      field: 'revenue_cents',
      expected: window.revenue_cents,
      actual: revenue,
      accepted: sums.revenueCents,
      late: sums.lateRevenueCents,
      ...(uncountedLate > 0
        ? { expectedMin: revenueMin, kind: 'bound' as const }
        : { kind: 'mismatch' as const }),
    });
  }
  if (reports.duplicates && sums.duplicates !== window.duplicates) {
    differences.push({
      ...cell,
      field: 'duplicates',
      expected: window.duplicates,
      actual: sums.duplicates,
      kind: 'mismatch',
    });
  }
  const failed = window.producer_failed ?? 0;
  // Events whose players may be missing from the count: counted late, or dropped late uncounted.
  const late = sums.lateEvents + droppedLate;
  const bounded = late > 0 || failed > 0;
  if (bounded) {
    // Two ranges for the true count: [found, found + late] and [expected − failed, expected].
    const max = sums.uniquePlayers + late;
    const expectedMin = Math.max(0, window.unique_players - failed);
    if (window.unique_players < sums.uniquePlayers || expectedMin > max) {
      differences.push({
        ...cell,
        field: 'unique_players',
        expected: window.unique_players,
        actual: sums.uniquePlayers,
        actualMax: max,
        ...(failed > 0 ? { expectedMin } : {}),
        kind: 'bound',
      });
    }
  } else if (sums.uniquePlayers !== window.unique_players) {
    differences.push({
      ...cell,
      field: 'unique_players',
      expected: window.unique_players,
      actual: sums.uniquePlayers,
      kind: 'mismatch',
    });
  }
  return { differences, bounded };
}

function missingCell(cell: Cell, window: ManifestWindow, reports: EngineReports): VerifyDifference[] {
  const fields: Array<[VerifyField, number]> = [
    ['events', window.events],
    ['revenue_cents', window.revenue_cents],
    ...(reports.duplicates ? [['duplicates', window.duplicates] as [VerifyField, number]] : []),
    ['unique_players', window.unique_players],
  ];
  const differences: VerifyDifference[] = fields
    .filter(([, expected]) => expected !== 0)
    .map(([field, expected]) => ({ ...cell, field, expected, actual: 0, kind: 'missing' }));
  // A manifest window always has events; keep the cell visible even if a hand-written one has none.
  if (differences.length === 0) {
    differences.push({ ...cell, field: 'events', expected: 0, actual: 0, kind: 'missing' });
  }
  return differences;
}

function unexpectedCell(cell: Cell, sums: CellSums): VerifyDifference[] {
  const fields: Array<[VerifyField, number, Partial<VerifyDifference>]> = [
    ['events', sums.events + sums.lateEvents, { accepted: sums.events, late: sums.lateEvents }],
    [
      'revenue_cents',
      sums.revenueCents + sums.lateRevenueCents,
      { accepted: sums.revenueCents, late: sums.lateRevenueCents },
    ],
    ['duplicates', sums.duplicates, {}],
    ['unique_players', sums.uniquePlayers, {}],
  ];
  const differences: VerifyDifference[] = fields
    .filter(([, actual]) => actual !== 0)
    .map(([field, actual, split]) => ({ ...cell, field, expected: 0, actual, ...split, kind: 'unexpected' }));
  // Documents full of zeros are still documents the manifest does not account for.
  if (differences.length === 0) {
    differences.push({
      ...cell,
      field: 'events',
      expected: 0,
      actual: 0,
      accepted: 0,
      late: 0,
      kind: 'unexpected',
    });
  }
  return differences;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Documents in the index that another run wrote (in part): the likely reason for differences. */
export interface OtherRunDocs {
  /** Documents whose first record came from another run (another run id than the manifest's). */
  docs: number;
  /** Those runs, with how many documents each, most documents first. */
  runs: Array<{ runId: string; docs: number }>;
  /** Documents whose window lies outside the manifest's windows. */
  outsideWindows: number;
  /** The manifest's windows, first start to last end (ISO-8601). */
  windows?: { from: string; to: string };
}

/**
 * Evidence that documents of `docs` belong to another run than the manifest (`runId`, its run.runId):
 * another run id on them, or a window before the manifest's first or after its last. Undefined when
 * there is none. Documents without a run id (an engine that does not write one) count by window only.
 */
export function findOtherRuns(
  runId: string | undefined,
  windows: readonly ManifestWindow[],
  docs: readonly AggregateDoc[],
): OtherRunDocs | undefined {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const window of windows) {
    const start = Date.parse(normaliseWindowStart(window.window_start));
    if (Number.isNaN(start)) continue;
    first = Math.min(first, start);
    last = Math.max(last, start);
  }
  const runs = new Map<string, number>();
  let other = 0;
  let outsideWindows = 0;
  for (const doc of docs) {
    if (runId !== undefined && doc.run_id !== undefined && doc.run_id !== runId) {
      other++;
      runs.set(doc.run_id, (runs.get(doc.run_id) ?? 0) + 1);
    }
    const start = Date.parse(normaliseWindowStart(doc.window_start));
    if (windows.length > 0 && (start < first || start > last)) outsideWindows++;
  }
  if (other === 0 && outsideWindows === 0) return undefined;
  const result: OtherRunDocs = {
    docs: other,
    runs: [...runs]
      .map(([id, count]) => ({ runId: id, docs: count }))
      .sort((a, b) => b.docs - a.docs || compareKeys(a.runId, b.runId)),
    outsideWindows,
  };
  if (Number.isFinite(first)) {
    result.windows = { from: new Date(first).toISOString(), to: new Date(last + WINDOW_MS).toISOString() };
  }
  return result;
}
