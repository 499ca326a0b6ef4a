/** The Kafka producer flags of `gapipe simulate`: --delivery-timeout and the idempotence default. */
import { describe, expect, it } from 'vitest';
import { resolveSimulateOptions, type SimulateInput } from '../../src/simulators/options.js';

function resolve(flags: SimulateInput) {
  return resolveSimulateOptions(flags, {}, { nowMs: Date.UTC(2026, 10, 21, 20), fallbackSeed: 1 });
}

describe('Kafka producer options', () => {
  it('retries records for 120 s and is idempotent by default, like Kafka’s Java producer', () => {
    expect(resolve({}).kafka).toMatchObject({ acks: 'all', idempotent: true, deliveryTimeoutMs: 120_000 });
  });

  it('reads --delivery-timeout as a duration', () => {
    expect(resolve({ deliveryTimeout: '30s' }).kafka.deliveryTimeoutMs).toBe(30_000);
    expect(resolve({ deliveryTimeout: '5m' }).kafka.deliveryTimeoutMs).toBe(300_000);
  });

  it.each([
    ['soon', "--delivery-timeout must be a duration from 1s to 24h like 120s or 2m, got 'soon'"],
    ['500ms', "--delivery-timeout must be a duration from 1s to 24h like 120s or 2m, got '500ms'"],
    ['25h', "--delivery-timeout must be a duration from 1s to 24h like 120s or 2m, got '25h'"],
    ['', "--delivery-timeout must be a duration from 1s to 24h like 120s or 2m, got ''"],
  ])('rejects --delivery-timeout %j', (value, message) => {
    expect(() => resolve({ deliveryTimeout: value })).toThrow(message);
  });

  it('needs a delivery timeout longer than the linger', () => {
    expect(() => resolve({ deliveryTimeout: '2s', linger: '5s' })).toThrow(
      '--delivery-timeout (2000ms) must be longer than --linger (5000ms)',
    );
  });

  it('turns idempotence off with acks other than all unless asked for, and refuses it then', () => {
    expect(resolve({ acks: '1' }).kafka.idempotent).toBe(false);
    expect(resolve({ idempotent: false }).kafka.idempotent).toBe(false);
    expect(() => resolve({ acks: '0', idempotent: true })).toThrow(
      '--idempotent needs --acks all, got --acks 0',
    );
  });
});
