import { describe, expect, it } from 'vitest';
import { describeEngine, ENGINE_NAMES, type EngineName } from '../../../src/bench/engines/types.js';

const engine = (
  name: EngineName,
  more: { consumers?: number; sparkMaster?: string; sparkThreads?: number } = {},
) => ({
  engine: name,
  consumers: more.consumers ?? 1,
  sparkMaster: more.sparkMaster,
  sparkThreads: more.sparkThreads ?? 2,
});

describe('describeEngine', () => {
  it('knows the three engines', () => {
    expect(ENGINE_NAMES).toEqual(['gapipe', 'spark', 'external']);
  });

  it('counts gapipe’s consumer processes on the lab, one or many', () => {
    expect(describeEngine(engine('gapipe'), 'lab')).toBe('1 consumer process');
    expect(describeEngine(engine('gapipe', { consumers: 4 }), 'lab')).toBe('4 consumer processes');
    expect(describeEngine(engine('gapipe', { consumers: 1200 }), 'lab')).toBe('1,200 consumer processes');
  });

  it('counts consumers, not processes, on the embedded target (they run in the bench’s own process)', () => {
    expect(describeEngine(engine('gapipe'), 'embedded')).toBe('1 consumer');
    expect(describeEngine(engine('gapipe', { consumers: 2 }), 'embedded')).toBe('2 consumers');
  });

  it('names the Spark job’s master: local[N] by default, the cluster when given', () => {
    for (const target of ['lab', 'embedded'] as const) {
      expect(describeEngine(engine('spark'), target)).toBe('the Spark job on local[2]');
      expect(describeEngine(engine('spark', { sparkThreads: 1 }), target)).toBe('the Spark job on local[1]');
      expect(
        describeEngine(engine('spark', { sparkMaster: 'spark://host:7077', sparkThreads: 8 }), target),
      ).toBe('the Spark job on spark://host:7077');
    }
  });

  it('calls an external engine the user’s, whatever the consumers', () => {
    for (const target of ['lab', 'embedded'] as const) {
      expect(describeEngine(engine('external', { consumers: 3 }), target)).toBe('your engine');
    }
  });
});
