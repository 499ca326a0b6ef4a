/**
 * Topic provisioning: the events topic and its late and dead-letter topics. Idempotent: existing
 * topics are left alone, a topic with fewer partitions than asked for is grown (Kafka cannot shrink).
 */
import { Kafka, logLevel } from 'kafkajs';
import { GapipeError } from '../../errors.js';

export function lateTopic(topic: string): string {
  return `${topic}-late`;
}

export function deadLetterTopic(topic: string): string {
  return `${topic}-dlq`;
}

export interface TopicResult {
  topic: string;
  partitions: number;
  status: 'created' | 'unchanged' | 'grown';
  /** Set when the topic has more partitions than asked for (it cannot shrink). */
  note?: string;
}

export async function provisionTopics(options: {
  bootstrap: string;
  topic: string;
  partitions: number;
}): Promise<TopicResult[]> {
  const kafka = new Kafka({
    clientId: 'gapipe-provision',
    brokers: [options.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5 },
  });
  const admin = kafka.admin();
  const wanted = [
    { topic: options.topic, partitions: options.partitions },
    // Late and dead-letter records are keyed like the source, so they keep its partitioning.
    { topic: lateTopic(options.topic), partitions: options.partitions },
    { topic: deadLetterTopic(options.topic), partitions: options.partitions },
  ];
  try {
    await admin.connect();
    const existing = await admin.fetchTopicMetadata({ topics: [] });
    const byName = new Map(existing.topics.map((t) => [t.name, t.partitions.length]));
    const results: TopicResult[] = [];
    const toCreate = wanted.filter((w) => !byName.has(w.topic));
    if (toCreate.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: toCreate.map((w) => ({ topic: w.topic, numPartitions: w.partitions, replicationFactor: 1 })),
      });
    }
    for (const w of wanted) {
      const current = byName.get(w.topic);
      if (current === undefined) {
        results.push({ topic: w.topic, partitions: w.partitions, status: 'created' });
      } else if (current < w.partitions) {
        await admin.createPartitions({ topicPartitions: [{ topic: w.topic, count: w.partitions }] });
        results.push({ topic: w.topic, partitions: w.partitions, status: 'grown' });
      } else {
        const result: TopicResult = { topic: w.topic, partitions: current, status: 'unchanged' };
        if (current > w.partitions) {
          result.note = `has ${current} partitions, more than the ${w.partitions} asked for; Kafka cannot shrink a topic`;
        }
        results.push(result);
      }
    }
    return results;
  } catch (error) {
    throw new GapipeError(
      'PROVISIONING_FAILED',
      `Could not create the Kafka topics on ${options.bootstrap}`,
      {
        cause: error,
        nextSteps: 'Check the broker with `gapipe lab status` and `gapipe lab logs kafka`',
      },
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
