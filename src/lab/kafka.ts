/**
 * The lab's Kafka: a single KRaft node (broker + controller) from the official apache/kafka image,
 * configured through the image's KAFKA_* environment contract. Two listeners: PLAINTEXT for clients
 * on the host (advertised as the published host port) and INTERNAL for containers on the lab network.
 */

import { containerName, volumeName } from './naming.js';
import { kafkaClusterId, type LabOptions } from './options.js';
import type { ServiceContext, ServiceDefinition } from './service.js';
import { kafkaMetadataStrategy } from './wait.js';

export const KAFKA_CONTAINER_PORT = 9092;
export const KAFKA_INTERNAL_PORT = 29092;
export const KAFKA_DATA_DIR = '/var/lib/kafka/data';

/** The started Kafka service. */
export interface KafkaHandle {
  /** Bootstrap servers for clients on this machine. */
  bootstrapServers(): string;
  /** Bootstrap servers for containers on the lab network. */
  internalBootstrapServers(): string;
}

export function kafkaHandle(options: LabOptions, advertisedHost: string): KafkaHandle {
  return {
    bootstrapServers: () => `${advertisedHost}:${options.ports.kafka}`,
    internalBootstrapServers: () => `${containerName(options.name, 'kafka')}:${KAFKA_INTERNAL_PORT}`,
  };
}

export const kafkaService: ServiceDefinition<KafkaHandle> = {
  name: 'kafka',
  handle: (ctx) => kafkaHandle(ctx.options, ctx.advertisedHost),
  containerSpec(ctx: ServiceContext) {
    const { options } = ctx;
    const handle = kafkaHandle(options, ctx.advertisedHost);
    return {
      name: containerName(options.name, 'kafka'),
      image: options.images.kafka,
      env: {
        CLUSTER_ID: kafkaClusterId(options.name),
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: `PLAINTEXT://:${KAFKA_CONTAINER_PORT},CONTROLLER://:9093,INTERNAL://:${KAFKA_INTERNAL_PORT}`,
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${handle.bootstrapServers()},INTERNAL://${handle.internalBootstrapServers()}`,
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT',
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        // A single node: every internal topic must have replication factor 1.
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
        KAFKA_DEFAULT_REPLICATION_FACTOR: '1',
        KAFKA_MIN_INSYNC_REPLICAS: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_NUM_PARTITIONS: String(options.partitions),
        // Topics are created by provisioning; a typo in a client's topic name should fail, not create.
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
        KAFKA_LOG_DIRS: KAFKA_DATA_DIR,
        KAFKA_HEAP_OPTS: `-Xms${options.kafkaHeapMb}m -Xmx${options.kafkaHeapMb}m`,
      },
      labels: ctx.labels,
      network: ctx.network,
      networkAliases: ['kafka'],
      ports: [{ containerPort: KAFKA_CONTAINER_PORT, hostIp: options.bind, hostPort: options.ports.kafka }],
      volumes: [{ volume: volumeName(options.name, 'kafka'), path: KAFKA_DATA_DIR }],
    };
  },
  waitStrategy: (handle) => kafkaMetadataStrategy(handle.bootstrapServers()),
  endpoint: (handle) => handle.bootstrapServers(),
};
