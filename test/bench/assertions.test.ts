import { describe, expect, it } from 'vitest';
import {
  type Assertion,
  evaluateAssertions,
  parseAssertion,
  parseAssertions,
} from '../../src/bench/assertions.js';
import { emptySummary } from '../../src/bench/histograms.js';
import type { LatencySummary, MeasuredSummary } from '../../src/bench/types.js';
import { GapipeError } from '../../src/errors.js';
import { instrumentSummary } from './fixtures.js';

function latency(overrides: Partial<LatencySummary> = {}): LatencySummary {
  return {
    count: 1000,
    minMs: 0.8,
    meanMs: 40.25,
    p50Ms: 30,
    p90Ms: 120,
    p99Ms: 612.3,
    p999Ms: 900,
    maxMs: 1500,
    ...overrides,
  };
}

function summary(overrides: Partial<MeasuredSummary> = {}): MeasuredSummary {
  return {
    stopReason: 'completed',
    durationMs: 70_000,
    measuredMs: 60_000,
    targetRate: 20_000,
    achievedRate: 19_400,
    keptUp: true,
    throughput: { produced: 19_400, acknowledged: 19_390, consumed: 18_234, written: 150 },
    totals: {
      produced: 1_164_000,
      acknowledged: 1_163_400,
      failed: 0,
      consumed: 1_094_040,
      written: 9000,
      late: 12,
      deadLettered: 3,
      duplicates: 40,
    },
    maxLag: 5400,
    latency: {
      'produce-ack': latency({ p99Ms: 4.5 }),
      delivery: latency(),
      sink: latency({ p99Ms: 2100 }),
      visible: emptySummary(),
    },
    correct: true,
    verify: { ok: true, cellsCompared: 240, cellsDiffering: 0, differences: [] },
    errors: ['consumer 1 restarted'],
    instrument: instrumentSummary(),
    ...overrides,
  };
}

function check(expression: string, s: MeasuredSummary = summary()) {
  const [outcome] = evaluateAssertions([parseAssertion(expression)], s);
  if (!outcome) throw new Error('no outcome');
  return outcome;
}

function parseError(expression: string): GapipeError {
  try {
    parseAssertion(expression);
  } catch (error) {
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('INVALID_FLAG');
    return error as GapipeError;
  }
  throw new Error(`'${expression}' parsed`);
}

describe('parseAssertion', () => {
  it('parses `correct`', () => {
    expect(parseAssertion('correct')).toEqual({ type: 'correct', expression: 'correct' });
    expect(parseAssertion('  correct ')).toEqual({ type: 'correct', expression: 'correct' });
  });

  it('parses latency assertions with every stat, unit and operator, spaces optional', () => {
    expect(parseAssertion('delivery.p99<500ms')).toEqual({
      type: 'threshold',
      expression: 'delivery.p99<500ms',
      metric: { type: 'latency', name: 'delivery.p99', kind: 'delivery', stat: 'p99' },
      op: '<',
      threshold: 500,
      unit: 'ms',
    } satisfies Assertion);
    expect(parseAssertion('sink.p99.9 <= 2 s')).toMatchObject({
      metric: { name: 'sink.p99.9', stat: 'p99.9' },
      op: '<=',
      threshold: 2,
      unit: 's',
    });
    expect(parseAssertion('visible.p999>=1.5us')).toMatchObject({
      metric: { name: 'visible.p99.9', stat: 'p99.9' },
      op: '>=',
      threshold: 1.5,
      unit: 'us',
    });
    expect(parseAssertion('produce_ack.max > 10')).toMatchObject({
      metric: { type: 'latency', kind: 'produce-ack', stat: 'max', name: 'produce-ack.max' },
      op: '>',
      unit: 'ms',
    });
    for (const stat of ['p50', 'p90', 'mean', 'min']) {
      expect(parseAssertion(`delivery.${stat}==3ms`)).toMatchObject({ metric: { stat }, op: '==' });
    }
    expect(parseAssertion('delivery.p99<250µs')).toMatchObject({ unit: 'us' });
  });

  it('parses rates, achieved, lag, errors, late and dead-lettered', () => {
    expect(parseAssertion('throughput>=20k/s')).toMatchObject({
      metric: { type: 'rate', name: 'throughput' },
      op: '>=',
      threshold: 20,
      unit: 'k/s',
    });
    expect(parseAssertion('throughput >= 20_000')).toMatchObject({ threshold: 20_000, unit: '/s' });
    for (const name of ['produced', 'acknowledged', 'consumed', 'written']) {
      expect(parseAssertion(`${name}>100/s`)).toMatchObject({ metric: { type: 'rate', name }, unit: '/s' });
    }
    expect(parseAssertion('achieved>=95%')).toMatchObject({
      metric: { type: 'achieved' },
      threshold: 95,
      unit: '%',
    });
    expect(parseAssertion('achieved>=95')).toMatchObject({ threshold: 95, unit: '%' });
    expect(parseAssertion('lag.max<10000')).toMatchObject({ metric: { type: 'count', name: 'lag.max' } });
    expect(parseAssertion('errors==0')).toMatchObject({ metric: { name: 'errors' }, op: '==', threshold: 0 });
    expect(parseAssertion('late<=100')).toMatchObject({ metric: { name: 'late' } });
    expect(parseAssertion('dead-lettered<1')).toMatchObject({ metric: { name: 'dead-lettered' } });
    expect(parseAssertion('dead_lettered<1')).toMatchObject({ metric: { name: 'dead-lettered' } });
  });

  it('names what is wrong, and lists the choices', () => {
    expect(parseError('delivery.p98<500ms').message).toBe(
      "--assert 'delivery.p98<500ms': unknown statistic p98 (use p50, p90, p99, p99.9, max, mean or min)",
    );
    expect(parseError('deliver.p99<500ms').message).toBe(
      "--assert 'deliver.p99<500ms': unknown latency kind deliver (use produce-ack, delivery, sink or visible)",
    );
    const unknown = parseError('speed>5');
    expect(unknown.message).toMatch(
      /^--assert 'speed>5': unknown metric speed \(use correct, <kind>\.<stat>/,
    );
    expect(unknown.message).toContain('throughput');
    expect(unknown.message).toContain('lag.max, errors, late or dead-lettered');
    expect(unknown.nextSteps).toContain("--assert 'delivery.p99<500ms'");
    expect(parseError('lag<5').message).toBe("--assert 'lag<5': unknown metric lag (did you mean lag.max?)");
    expect(parseError('lag.p99<5').message).toBe(
      "--assert 'lag.p99<5': unknown statistic p99 for lag (use lag.max)",
    );
    expect(parseError('delivery.p99<500m').message).toBe(
      "--assert 'delivery.p99<500m': unknown unit m for delivery.p99 (use us, ms or s)",
    );
    expect(parseError('throughput>5/min').message).toBe(
      "--assert 'throughput>5/min': unknown unit /min for throughput (use /s or k/s)",
    );
    expect(parseError('errors<5%').message).toBe(
      "--assert 'errors<5%': unknown unit % for errors (it is a count and takes no unit)",
    );
    expect(parseError('achieved>=0.95').message).toBe(
      "--assert 'achieved>=0.95': achieved is a percentage of the target rate: write 95%, not 0.95",
    );
    expect(parseError('delivery.p99=500ms').message).toBe(
      "--assert 'delivery.p99=500ms': unknown operator = (use <, <=, >, >= or ==)",
    );
    expect(parseError('errors!=0').message).toBe(
      "--assert 'errors!=0': unknown operator != (use <, <=, >, >= or ==)",
    );
    expect(parseError('delivery.p99<fast').message).toBe(
      "--assert 'delivery.p99<fast': expected a number after <, got 'fast'",
    );
    expect(parseError('delivery.p99<').message).toBe(
      "--assert 'delivery.p99<': expected a number after <, got ''",
    );
    expect(parseError('delivery.p99<-5ms').message).toBe(
      "--assert 'delivery.p99<-5ms': expected a number after <, got '-5ms'",
    );
    expect(parseError('delivery.p99').message).toBe(
      "--assert 'delivery.p99': a metric needs a comparison and a value, e.g. delivery.p99<… or delivery.p99>=… (use <, <=, >, >= or ==)",
    );
    // A bare word that is no metric is not offered back as one ("nonsense<500ms").
    expect(parseError('nonsense').message).toMatch(
      /^--assert 'nonsense': unknown metric nonsense \(use correct, /,
    );
    expect(parseError('<5').message).toBe(
      "--assert '<5': expected `correct` or <metric> <op> <value>, like delivery.p99<500ms",
    );
    expect(parseError('  ').message).toBe("--assert '  ': empty expression");
  });

  it('parseAssertions parses all of them up front and stops at the first bad one', () => {
    expect(parseAssertions(['correct', 'errors==0'])).toHaveLength(2);
    expect(parseAssertions([])).toEqual([]);
    expect(() => parseAssertions(['correct', 'delivery.p98<1', 'nope'])).toThrow(/delivery\.p98/);
  });
});

describe('evaluateAssertions', () => {
  it('latency: compares in the unit written and says what was measured', () => {
    expect(check('delivery.p99<500ms')).toEqual({
      expression: 'delivery.p99<500ms',
      passed: false,
      actual: '612.3ms',
      message: 'delivery.p99 was 612.3ms, not < 500ms',
    });
    expect(check('delivery.p99 < 1s')).toEqual({
      expression: 'delivery.p99 < 1s',
      passed: true,
      actual: '0.612s',
      message: 'delivery.p99 was 0.612s (< 1s)',
    });
    expect(check('produce-ack.p99<=4500us')).toMatchObject({ passed: true, actual: '4,500us' });
    expect(check('delivery.p999<=900')).toMatchObject({ passed: true, actual: '900ms' });
    expect(check('delivery.max>1500')).toMatchObject({
      passed: false,
      message: 'delivery.max was 1,500ms, not > 1,500ms',
    });
    expect(check('delivery.mean>=40')).toMatchObject({ passed: true, actual: '40.25ms' });
    expect(check('delivery.min<1')).toMatchObject({ passed: true, actual: '0.8ms' });
    expect(check('delivery.p50==30')).toMatchObject({ passed: true });
    expect(check('delivery.p90>120')).toMatchObject({ passed: false });
  });

  it('a latency kind without samples fails rather than passing on zeros', () => {
    expect(check('visible.p99<500ms')).toEqual({
      expression: 'visible.p99<500ms',
      passed: false,
      message: 'visible.p99 has no samples (nothing was measured)',
    });
  });

  it('rates: throughput is the consumed rate', () => {
    expect(check('throughput>=20000/s')).toEqual({
      expression: 'throughput>=20000/s',
      passed: false,
      actual: '18,234/s',
      message: 'throughput was 18,234/s, not >= 20,000/s',
    });
    expect(check('throughput>=18k/s')).toMatchObject({ passed: true, actual: '18.23k/s' });
    expect(check('produced>=19400')).toMatchObject({ passed: true });
    expect(check('acknowledged>19390')).toMatchObject({ passed: false });
    expect(check('consumed==18234')).toMatchObject({ passed: true });
    expect(check('written>=150/s')).toMatchObject({ passed: true, actual: '150/s' });
  });

  it('achieved is a percentage of the target rate', () => {
    expect(check('achieved>=95%')).toEqual({
      expression: 'achieved>=95%',
      passed: true,
      actual: '97%',
      message: 'achieved was 97% (>= 95%)',
    });
    expect(check('achieved>=98%')).toMatchObject({ passed: false, message: 'achieved was 97%, not >= 98%' });
    expect(check('achieved>=95%', summary({ targetRate: 0 }))).toMatchObject({
      passed: false,
      message: 'achieved is unknown (the run had no target rate)',
    });
  });

  it('counts: lag.max, errors, late, dead-lettered', () => {
    expect(check('lag.max<5000')).toMatchObject({
      passed: false,
      actual: '5,400',
      message: 'lag.max was 5,400, not < 5,000',
    });
    expect(check('errors==0')).toMatchObject({ passed: false, message: 'errors was 1, not == 0' });
    expect(check('errors==0', summary({ errors: [] }))).toMatchObject({ passed: true });
    expect(check('late<=12')).toMatchObject({ passed: true, actual: '12' });
    expect(check('dead-lettered<3')).toMatchObject({ passed: false, actual: '3' });
  });

  it('correct: verified, differing cells, or not verified', () => {
    expect(check('correct')).toEqual({
      expression: 'correct',
      passed: true,
      actual: 'verified',
      message: 'results verify (240 cells match)',
    });
    const wrong = summary({
      correct: false,
      verify: { ok: false, cellsCompared: 240, cellsDiffering: 3, differences: [] },
    });
    expect(check('correct', wrong)).toEqual({
      expression: 'correct',
      passed: false,
      actual: 'differ',
      message: 'results did not verify (3 cells differ)',
    });
    const one = summary({
      correct: false,
      verify: { ok: false, cellsCompared: 1, cellsDiffering: 1, differences: [] },
    });
    expect(check('correct', one).message).toBe('results did not verify (1 cell differs)');

    const stopped = summary({
      correct: null,
      verify: null,
      stopReason: 'stopped',
      totals: { ...summary().totals, consumed: 0, written: 0 },
    });
    expect(check('correct', stopped)).toEqual({
      expression: 'correct',
      passed: false,
      message: 'results were not verified (run stopped before any data)',
    });
    expect(check('correct', summary({ correct: null, verify: null, stopReason: 'failed' })).message).toBe(
      'results were not verified (run failed)',
    );
    expect(check('correct', summary({ correct: null, verify: null })).message).toBe(
      'results were not verified (verification could not run)',
    );
  });

  it('evaluates several in order, keeping the expressions as written', () => {
    const outcomes = evaluateAssertions(
      parseAssertions(['correct', ' errors == 0 ', 'throughput>1k/s']),
      summary(),
    );
    expect(outcomes.map((o) => [o.expression, o.passed])).toEqual([
      ['correct', true],
      ['errors == 0', false],
      ['throughput>1k/s', true],
    ]);
  });
});
