/**
 * A broker that is down when `gapipe consume` starts fails it within seconds, as simulate does; the
 * long patience (--kafka-timeout, kafkajs' many retries) is for outages after Kafka has answered once.
 */
import { describe, expect, it } from 'vitest';
import { GapipeError } from '../../src/errors.js';
import {
  FIRST_CONTACT_BUDGET_MS,
  FIRST_CONTACT_POLICY,
  KafkaTransport,
  RECONNECT_POLICY,
  type TransportHandlers,
  worstCaseConnectMs,
} from '../../src/pipeline/transport.js';

describe('the kafkajs retry policies', () => {
  it('adds up every attempt’s connection timeout and the longest waits between attempts', () => {
    const policy = {
      connectionTimeout: 1000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    };
    // 3 attempts of 1 s, then waits of 100 ms +20% and twice that +20%.
    expect(worstCaseConnectMs(policy)).toBe(3000 + 120 + 288);
    expect(worstCaseConnectMs({ ...policy, retry: { ...policy.retry, maxRetryTime: 200 } })).toBe(
      3000 + 120 + 200,
    );
  });

  it('gives up on a broker that never answered within the first-contact budget', () => {
    expect(worstCaseConnectMs(FIRST_CONTACT_POLICY)).toBeLessThanOrEqual(FIRST_CONTACT_BUDGET_MS);
  });

  it('keeps reconnecting after a first contact for longer than a broker restart takes', () => {
    // A broker restart in the lab takes 20–30 s; the consumer's own --kafka-timeout decides beyond.
    expect(worstCaseConnectMs(RECONNECT_POLICY)).toBeGreaterThan(30_000);
  });
});

describe('KafkaTransport on kafkajs, with nothing listening', () => {
  const handlers: TransportHandlers = {
    onAssignment: () => {},
    onBatch: async () => ({}),
    onFatal: () => {},
  };

  // With the reconnect policy at start this took ~50 s; the first-contact policy gives up in about one.
  it('fails with KAFKA_UNREACHABLE naming the broker and the fix', { timeout: 15_000 }, async () => {
    const transport = new KafkaTransport({
      client: 'kafkajs',
      brokers: ['127.0.0.1:1'],
      topic: 'game-events',
      group: 'g',
      fromBeginning: true,
      sessionTimeoutMs: 30_000,
    });
    const error = await transport.start(handlers).then(
      () => undefined,
      (e: unknown) => e,
    );
    await transport.stop();
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('KAFKA_UNREACHABLE');
    expect((error as GapipeError).exitCode).toBe(5);
    expect((error as GapipeError).message).toBe('Kafka is not reachable at 127.0.0.1:1');
    expect((error as GapipeError).nextSteps).toContain('--brokers');
  });
});
