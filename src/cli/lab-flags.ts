/** Flags shared by the lab commands, and their translation into lab options. */
import { Flags } from '@oclif/core';
import { loadConfigFile } from '../config.js';
import {
  type LabOptions,
  type LabOptionsInput,
  labInputFromEnv,
  parseServicesList,
  resolveLabOptions,
} from '../lab/options.js';

export const labNameFlag = {
  name: Flags.string({
    description:
      'Lab name; each lab has its own containers, network and volumes (also --lab, as in the other commands) [env: GAPIPE_LAB]',
    aliases: ['lab'],
  }),
  config: Flags.string({ description: 'Config file (default: ./gapipe.config.json) [env: GAPIPE_CONFIG]' }),
};

export const labUpFlags = {
  ...labNameFlag,
  services: Flags.string({
    description: 'Services to start, comma separated: kafka, elasticsearch, kibana [default: all three]',
  }),
  partitions: Flags.integer({ description: 'Partitions of the events topic [default: 6]' }),
  topic: Flags.string({ description: 'Name of the events topic [default: game-events]' }),
  bind: Flags.string({
    description:
      'Address the ports are published on [default: 127.0.0.1]. Anything else exposes unauthenticated services',
  }),
  'kafka-port': Flags.integer({
    description: 'Host port for Kafka [default: 9092] [env: GAPIPE_KAFKA_PORT]',
  }),
  'es-port': Flags.integer({
    description: 'Host port for Elasticsearch [default: 9200] [env: GAPIPE_ELASTICSEARCH_PORT]',
  }),
  'kibana-port': Flags.integer({
    description: 'Host port for Kibana [default: 5601] [env: GAPIPE_KIBANA_PORT]',
  }),
  'kafka-image': Flags.string({ description: 'Kafka image [env: GAPIPE_KAFKA_IMAGE]' }),
  'es-image': Flags.string({ description: 'Elasticsearch image [env: GAPIPE_ELASTICSEARCH_IMAGE]' }),
  'kibana-image': Flags.string({ description: 'Kibana image [env: GAPIPE_KIBANA_IMAGE]' }),
  'es-heap': Flags.integer({ description: 'Elasticsearch heap in MiB [default: 512]' }),
  'kafka-heap': Flags.integer({ description: 'Kafka heap in MiB [default: 512]' }),
  'ready-timeout': Flags.integer({
    description:
      'Seconds each service may take to become ready [default: kafka 120, elasticsearch 180, kibana 300]',
  }),
};

type UpFlags = {
  name?: string | undefined;
  config?: string | undefined;
  services?: string | undefined;
  partitions?: number | undefined;
  topic?: string | undefined;
  bind?: string | undefined;
  'kafka-port'?: number | undefined;
  'es-port'?: number | undefined;
  'kibana-port'?: number | undefined;
  'kafka-image'?: string | undefined;
  'es-image'?: string | undefined;
  'kibana-image'?: string | undefined;
  'es-heap'?: number | undefined;
  'kafka-heap'?: number | undefined;
  'ready-timeout'?: number | undefined;
};

/** Flags > environment > config file > defaults. */
export function labOptionsFromFlags(flags: UpFlags, env: NodeJS.ProcessEnv = process.env): LabOptions {
  const budget = flags['ready-timeout'] === undefined ? undefined : flags['ready-timeout'] * 1000;
  const fromFlags: LabOptionsInput = {
    name: flags.name,
    services: flags.services === undefined ? undefined : parseServicesList(flags.services),
    partitions: flags.partitions,
    topic: flags.topic,
    bind: flags.bind,
    ports: { kafka: flags['kafka-port'], elasticsearch: flags['es-port'], kibana: flags['kibana-port'] },
    images: { kafka: flags['kafka-image'], elasticsearch: flags['es-image'], kibana: flags['kibana-image'] },
    readyBudgetMs: { kafka: budget, elasticsearch: budget, kibana: budget },
    elasticsearchHeapMb: flags['es-heap'],
    kafkaHeapMb: flags['kafka-heap'],
  };
  const config = loadConfigFile(flags.config);
  return resolveLabOptions(fromFlags, labInputFromEnv(env), config.lab ?? {});
}

/** The lab name from flag, environment or config file. */
export function labNameFromFlags(flags: { name?: string | undefined; config?: string | undefined }): string {
  return labOptionsFromFlags({ name: flags.name, config: flags.config }).name;
}
