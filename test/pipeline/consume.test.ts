import { describe, expect, it } from 'vitest';
import { consume } from '../../src/pipeline/consume.js';
import { resolveConsumeOptions } from '../../src/pipeline/options.js';
import { MemoryStore } from '../../src/pipeline/store.js';
import type { ConsumerTransport } from '../../src/pipeline/transport.js';

/** A Kafka that never answers: connecting takes for ever. */
function unreachableKafka(): ConsumerTransport & { stopped: boolean } {
  return {
    description: 'unreachable',
    stopped: false,
    start: () => new Promise(() => {}),
    pause() {},
    resume() {},
    commit: () => new Promise(() => {}),
    produce: () => new Promise(() => {}),
    partitionCount: () => new Promise(() => {}),
    async stop() {
      this.stopped = true;
    },
  };
}

describe('consume', () => {
  it('ends at once when interrupted while Kafka does not answer the first connect', async () => {
    const transport = unreachableKafka();
    const controller = new AbortController();
    const running = consume(resolveConsumeOptions({}), {
      transport,
      store: new MemoryStore(),
      signal: controller.signal,
    });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const result = await running;
    expect(result).toMatchObject({ stopReason: 'interrupted', consumed: 0 });
    expect(transport.stopped).toBe(true);
  });
});
