import { describe, expect, it } from 'vitest';
import { corruptEvent, MALFORMED_KINDS, type MalformedKind } from '../../src/simulators/malformed.js';
import { Sfc32 } from '../../src/simulators/prng.js';
import { isValidRecord } from './event-schema.js';
import { generateAll, text } from './helpers.js';

describe('corruptEvent', () => {
  const valid = generateAll({ events: 2000 }).records.map(text);

  it('produces every kind, and none of them is a valid event', () => {
    const rng = new Sfc32(11);
    const seen = new Map<MalformedKind, number>();
    for (const [i, event] of valid.entries()) {
      expect(isValidRecord(event)).toBe(true);
      const { kind, value } = corruptEvent(event, rng);
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
      expect(isValidRecord(value), `${kind} #${i}: ${String(value).slice(0, 80)}`).toBe(false);
      // One record per line in the stdout and file sinks.
      expect(Buffer.from(value).includes(0x0a)).toBe(false);
    }
    expect([...seen.keys()].sort()).toEqual([...MALFORMED_KINDS].sort());
  });

  it('is deterministic for a seed', () => {
    const run = () => {
      const rng = new Sfc32(3);
      return valid.slice(0, 200).map((event) => corruptEvent(event, rng));
    };
    expect(run()).toEqual(run());
  });
});
