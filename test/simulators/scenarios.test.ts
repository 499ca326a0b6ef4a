import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GapipeError } from '../../src/errors.js';
import { resolveSimulateOptions } from '../../src/simulators/options.js';
import { loadScenario, parseScenario, scenarioPresets } from '../../src/simulators/scenarios.js';

const dir = mkdtempSync(join(tmpdir(), 'gapipe-scenarios-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const context = { nowMs: Date.parse('2026-11-21T15:30:00Z'), fallbackSeed: 7 };

function errorOf(run: () => unknown): GapipeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GapipeError);
    return error as GapipeError;
  }
  throw new Error('expected an error');
}

describe('scenario presets in templates/scenarios/', () => {
  it('ship steady, evening-peak and launch-day', () => {
    expect(scenarioPresets()).toEqual(expect.arrayContaining(['steady', 'evening-peak', 'launch-day']));
  });

  it.each(['steady', 'evening-peak', 'launch-day'])('%s is valid and resolves to options', (name) => {
    const scenario = loadScenario(name);
    expect(scenario.description?.length).toBeGreaterThan(20);
    const options = resolveSimulateOptions({}, scenario.input, { ...context, scenarioName: scenario.name });
    expect(options.scenario).toBe(name);
    expect(options.startRate).toBeGreaterThan(0);
    expect(options.durationMs).toBeGreaterThan(0);
  });

  it('evening-peak starts at 19:00 in EU and ramps up', () => {
    const scenario = loadScenario('evening-peak');
    const options = resolveSimulateOptions({}, scenario.input, { ...context, scenarioName: scenario.name });
    // Now is 16:30 in EU, so the latest 19:00 in EU was yesterday.
    expect(new Date(options.startTimeMs).toISOString()).toBe('2026-11-20T18:00:00.000Z');
    expect(options.stages[0]?.targetRate).toBeGreaterThan(options.startRate);
  });

  it('launch-day has a spike: one stage jumps at least five-fold within a minute', () => {
    const scenario = loadScenario('launch-day');
    const options = resolveSimulateOptions({}, scenario.input, { ...context, scenarioName: scenario.name });
    let previous = options.startRate;
    const jumps = options.stages.map((stage) => {
      const jump = stage.targetRate / Math.max(previous, 1);
      previous = stage.targetRate;
      return { jump, durationMs: stage.durationMs };
    });
    expect(jumps.some((j) => j.jump >= 5 && j.durationMs <= 60_000)).toBe(true);
    expect(options.disorder.duplicates).toBeGreaterThan(0);
  });

  it('lets flags override the scenario', () => {
    const scenario = loadScenario('steady');
    const options = resolveSimulateOptions({ players: '10', events: '100', regions: 'EU' }, scenario.input, {
      ...context,
      scenarioName: 'steady',
    });
    expect(options).toMatchObject({ players: 10, events: 100, durationMs: undefined, regions: ['EU'] });
    expect(options.startRate).toBe(5); // the scenario's 2 s per player, for 10 players
  });
});

describe('scenario files', () => {
  it('loads a user file by path', () => {
    const path = join(dir, 'mine.json');
    writeFileSync(
      path,
      JSON.stringify({ players: 50, rate: '100ms', 'late-by': '1m..2m', late: 0.1, regions: ['SA'] }),
    );
    const scenario = loadScenario(path);
    expect(scenario).toMatchObject({ name: 'mine.json', path });
    expect(scenario.input).toEqual({
      players: 50,
      rate: '100ms',
      lateBy: '1m..2m',
      late: 0.1,
      regions: ['SA'],
    });
  });

  it('names an unknown preset or missing file', () => {
    const error = errorOf(() => loadScenario('evening'));
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toContain(
      '--scenario must be a preset (evening-peak, launch-day, steady) or a scenario JSON file',
    );
    expect(error.message).toContain("got 'evening'");
  });

  it('rejects invalid JSON, unknown keys and ill-typed values', () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"players": ');
    expect(errorOf(() => loadScenario(broken))).toMatchObject({ code: 'INVALID_CONFIG' });
    expect(errorOf(() => parseScenario([], 'x')).message).toBe('Scenario x must hold a JSON object');
    const unknown = errorOf(() => parseScenario({ sink: 'kafka' }, 'x'));
    expect(unknown.message).toBe("Scenario x has an unknown key 'sink'");
    expect(unknown.nextSteps).toContain('late-by');
    expect(errorOf(() => parseScenario({ rate: { every: '10ms' } }, 'x')).message).toBe(
      'Scenario x: "rate" must be a string or a number',
    );
    expect(errorOf(() => parseScenario({ stages: [1, 2] }, 'x')).message).toBe(
      'Scenario x: "stages" must be a string or a list of strings',
    );
  });
});
