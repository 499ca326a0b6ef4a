import { describe, expect, it } from 'vitest';
import { GapipeError } from '../../src/errors.js';
import {
  isPublicBind,
  kafkaClusterId,
  LAB_DEFAULTS,
  type LabOptionsInput,
  labInputFromEnv,
  parseServicesList,
  resolveLabOptions,
} from '../../src/lab/options.js';

/** Runs `fn`, expects a GapipeError and returns it. */
function caught(fn: () => unknown): GapipeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GapipeError);
    return error as GapipeError;
  }
  throw new Error('expected a GapipeError, nothing was thrown');
}

function invalid(input: LabOptionsInput): GapipeError {
  return caught(() => resolveLabOptions(input));
}

describe('resolveLabOptions: sources and defaults', () => {
  it('gives the exported defaults when nothing is given', () => {
    const options = resolveLabOptions();
    expect(options).toEqual({
      name: 'lab',
      services: ['kafka', 'elasticsearch', 'kibana'],
      partitions: 6,
      bind: '127.0.0.1',
      topic: 'game-events',
      ports: { kafka: 9092, elasticsearch: 9200, kibana: 5601 },
      images: {
        kafka: 'apache/kafka:4.4.0',
        elasticsearch: 'docker.elastic.co/elasticsearch/elasticsearch:8.19.21',
        kibana: 'docker.elastic.co/kibana/kibana:8.19.21',
      },
      readyBudgetMs: { kafka: 120_000, elasticsearch: 180_000, kibana: 300_000 },
      elasticsearchHeapMb: 512,
      kafkaHeapMb: 512,
    });
  });

  it('hands out copies, so changing one result does not change the defaults', () => {
    const first = resolveLabOptions();
    first.services.pop();
    first.ports.kafka = 1;
    first.images.kafka = 'changed';
    first.readyBudgetMs.kafka = 1;
    const second = resolveLabOptions();
    expect(second.services).toEqual(['kafka', 'elasticsearch', 'kibana']);
    expect(second.ports.kafka).toBe(9092);
    expect(second.images.kafka).toBe('apache/kafka:4.4.0');
    expect(second.readyBudgetMs.kafka).toBe(120_000);
    expect(LAB_DEFAULTS.services).toEqual(['kafka', 'elasticsearch', 'kibana']);
  });

  it('takes flags over environment over config file over defaults, per value', () => {
    const flags: LabOptionsInput = { name: 'from-flags', ports: { kafka: 19092 } };
    const env: LabOptionsInput = {
      name: 'from-env',
      partitions: 3,
      ports: { kafka: 29092, elasticsearch: 29200 },
      images: { kafka: 'env/kafka:1' },
    };
    const config: LabOptionsInput = {
      name: 'from-config',
      partitions: 2,
      topic: 'config-topic',
      ports: { kafka: 39092, elasticsearch: 39200, kibana: 35601 },
      images: { kafka: 'config/kafka:1', kibana: 'config/kibana:1' },
      readyBudgetMs: { kafka: 1000 },
    };
    const options = resolveLabOptions(flags, env, config);
    expect(options.name).toBe('from-flags');
    expect(options.partitions).toBe(3);
    expect(options.topic).toBe('config-topic');
    expect(options.bind).toBe('127.0.0.1');
    expect(options.ports).toEqual({ kafka: 19092, elasticsearch: 29200, kibana: 35601 });
    expect(options.images).toEqual({
      kafka: 'env/kafka:1',
      elasticsearch: LAB_DEFAULTS.images.elasticsearch,
      kibana: 'config/kibana:1',
    });
    expect(options.readyBudgetMs).toEqual({ kafka: 1000, elasticsearch: 180_000, kibana: 300_000 });
  });

  it('lets an undefined value fall through to the next source instead of overriding it', () => {
    const flags: LabOptionsInput = {
      name: undefined,
      services: undefined,
      partitions: undefined,
      ports: { kafka: undefined, elasticsearch: undefined },
      images: { kafka: undefined },
      readyBudgetMs: { kafka: undefined },
      elasticsearchHeapMb: undefined,
    };
    const config: LabOptionsInput = {
      name: 'configured',
      services: ['kafka'],
      partitions: 12,
      ports: { kafka: 19092 },
      images: { kafka: 'my/kafka:1' },
      readyBudgetMs: { kafka: 5000 },
      elasticsearchHeapMb: 1024,
    };
    const options = resolveLabOptions(flags, {}, config);
    expect(options.name).toBe('configured');
    expect(options.services).toEqual(['kafka']);
    expect(options.partitions).toBe(12);
    expect(options.ports.kafka).toBe(19092);
    expect(options.images.kafka).toBe('my/kafka:1');
    expect(options.readyBudgetMs.kafka).toBe(5000);
    expect(options.elasticsearchHeapMb).toBe(1024);
  });

  it('accepts the edges of every range', () => {
    const options = resolveLabOptions({
      name: 'a',
      partitions: 1000,
      bind: '::1',
      topic: 'x'.repeat(200),
      ports: { kafka: 1, elasticsearch: 65535, kibana: 5601 },
      elasticsearchHeapMb: 256,
      kafkaHeapMb: 32_768,
    });
    expect(options.partitions).toBe(1000);
    expect(resolveLabOptions({ name: `a${'-'.repeat(30)}`, partitions: 1 }).name).toHaveLength(31);
  });
});

describe('resolveLabOptions: validation messages', () => {
  it.each([
    ['Upper', "got 'Upper'"],
    ['-leading-dash', "got '-leading-dash'"],
    ['', "got ''"],
    ['a'.repeat(32), `got '${'a'.repeat(32)}'`],
    ['has space', "got 'has space'"],
  ])('rejects the lab name %j', (name, got) => {
    const error = invalid({ name });
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toContain('--name must be 1-31 lowercase letters');
    expect(error.message).toContain(got);
  });

  it('rejects an unknown service as UNKNOWN_SERVICE and lists the known ones', () => {
    const error = invalid({ services: ['kafka', 'zookeeper'] });
    expect(error.code).toBe('UNKNOWN_SERVICE');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe("--services has an unknown service 'zookeeper'");
    expect(error.nextSteps).toContain('kafka, elasticsearch, kibana');
  });

  it('rejects an empty service list', () => {
    const error = invalid({ services: [] });
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe('--services must name at least one of kafka, elasticsearch, kibana');
  });

  it('rejects kibana without elasticsearch and says what to add', () => {
    const error = invalid({ services: ['kafka', 'kibana'] });
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe(
      '--services includes kibana without elasticsearch; Kibana needs Elasticsearch',
    );
    expect(error.nextSteps).toContain('--services elasticsearch,kibana');
  });

  it.each([0, -1, 1001, 2.5, Number.NaN])('rejects --partitions %s', (partitions) => {
    const error = invalid({ partitions });
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe(`--partitions must be a whole number from 1 to 1000, got '${partitions}'`);
  });

  it.each(['localhost', '127.0.0', '', '0.0.0.0:9092'])('rejects --bind %j', (bind) => {
    const error = invalid({ bind });
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe(`--bind must be an IP address such as 127.0.0.1 or 0.0.0.0, got '${bind}'`);
    expect(error.nextSteps).toContain('--bind 127.0.0.1');
  });

  it.each(['has space', 'slash/topic', '', 'x'.repeat(201)])('rejects --topic %j', (topic) => {
    const error = invalid({ topic });
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe(`--topic must be 1-200 of a-z A-Z 0-9 . _ -, got '${topic}'`);
  });

  it.each([0, 65536, 80.5, -1])('rejects a Kafka port of %s', (port) => {
    const error = invalid({ ports: { kafka: port } });
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe(`--kafka-port must be a port number from 1 to 65535, got '${port}'`);
  });

  it('rejects a Kibana port out of range', () => {
    expect(invalid({ ports: { kibana: 70000 } }).message).toBe(
      "--kibana-port must be a port number from 1 to 65535, got '70000'",
    );
  });

  // The Elasticsearch flags are --es-port and --es-image (src/cli/lab-flags.ts); a message naming
  // --elasticsearch-port sends the user to a flag that does not exist.
  it('names the real flag --es-port for an Elasticsearch port out of range', () => {
    expect(invalid({ ports: { elasticsearch: 0 } }).message).toBe(
      "--es-port must be a port number from 1 to 65535, got '0'",
    );
  });

  it('rejects two started services on one port, naming both flags', () => {
    const error = invalid({ ports: { kafka: 5601 } });
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe(
      '--kibana-port and --kafka-port are both 5601; each service needs its own port',
    );
  });

  it('names --es-port when Elasticsearch shares a port with another service', () => {
    expect(invalid({ ports: { kafka: 9200 } }).message).toBe(
      '--es-port and --kafka-port are both 9200; each service needs its own port',
    );
  });

  it('allows a shared port when one of the two services is not started', () => {
    const options = resolveLabOptions({ services: ['kafka'], ports: { kafka: 5601 } });
    expect(options.ports).toEqual({ kafka: 5601, elasticsearch: 9200, kibana: 5601 });
  });

  it.each(['', '   '])('rejects an empty Kafka image %j', (image) => {
    expect(invalid({ images: { kafka: image } }).message).toBe('--kafka-image must not be empty');
  });

  it('rejects an empty Kibana image', () => {
    expect(invalid({ images: { kibana: ' ' } }).message).toBe('--kibana-image must not be empty');
  });

  it('names the real flag --es-image for an empty Elasticsearch image', () => {
    expect(invalid({ images: { elasticsearch: '' } }).message).toBe('--es-image must not be empty');
  });

  it.each([
    ['elasticsearchHeapMb', '--es-heap', 255],
    ['elasticsearchHeapMb', '--es-heap', 32_769],
    ['elasticsearchHeapMb', '--es-heap', 300.5],
    ['kafkaHeapMb', '--kafka-heap', 128],
    ['kafkaHeapMb', '--kafka-heap', 40_000],
  ] as const)('rejects %s = %s (%s)', (key, flag, value) => {
    const error = invalid({ [key]: value });
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe(`${flag} must be a number of MiB from 256 to 32768, got '${value}'`);
  });
});

describe('labInputFromEnv', () => {
  it('reads image and port overrides and the lab name', () => {
    const input = labInputFromEnv({
      GAPIPE_KAFKA_IMAGE: 'my/kafka:1',
      GAPIPE_ELASTICSEARCH_IMAGE: 'my/es:1',
      GAPIPE_KIBANA_IMAGE: 'my/kibana:1',
      GAPIPE_KAFKA_PORT: '19092',
      GAPIPE_ELASTICSEARCH_PORT: '19200',
      GAPIPE_KIBANA_PORT: '15601',
      GAPIPE_LAB: 'ci',
    });
    expect(input).toEqual({
      name: 'ci',
      images: { kafka: 'my/kafka:1', elasticsearch: 'my/es:1', kibana: 'my/kibana:1' },
      ports: { kafka: 19092, elasticsearch: 19200, kibana: 15601 },
    });
  });

  it('treats unset and empty variables as not given', () => {
    const input = labInputFromEnv({ GAPIPE_KAFKA_IMAGE: '', GAPIPE_KAFKA_PORT: '', GAPIPE_LAB: '' });
    expect(input).toEqual({ images: {}, ports: {}, name: undefined });
    expect(resolveLabOptions({}, input)).toEqual(resolveLabOptions());
  });

  it('rejects a port that is not a number, naming the variable', () => {
    const error = caught(() => labInputFromEnv({ GAPIPE_ELASTICSEARCH_PORT: 'ninety-two' }));
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe(
      "GAPIPE_ELASTICSEARCH_PORT must be a port number from 1 to 65535, got 'ninety-two'",
    );
  });

  // A port out of range set in the environment must be reported against the variable the user
  // set, not against a --kafka-port flag they never passed.
  it('names the variable for a port out of range', () => {
    const error = caught(() => resolveLabOptions({}, labInputFromEnv({ GAPIPE_KAFKA_PORT: '70000' })));
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toContain('GAPIPE_KAFKA_PORT');
  });

  it('is overridden by flags and overrides the config file', () => {
    const env = labInputFromEnv({ GAPIPE_KAFKA_IMAGE: 'env/kafka:1', GAPIPE_KAFKA_PORT: '29092' });
    const options = resolveLabOptions({ images: { kafka: 'flag/kafka:1' } }, env, {
      ports: { kafka: 39092 },
      images: { kafka: 'config/kafka:1' },
    });
    expect(options.images.kafka).toBe('flag/kafka:1');
    expect(options.ports.kafka).toBe(29092);
  });
});

describe('isPublicBind', () => {
  it.each([
    ['127.0.0.1', false],
    ['127.1.2.3', false],
    ['::1', false],
    ['0.0.0.0', true],
    ['::', true],
    ['192.168.1.20', true],
  ])('%s → %s', (bind, expected) => {
    expect(isPublicBind(bind)).toBe(expected);
  });
});

describe('kafkaClusterId', () => {
  it('is 22 base64url characters encoding 16 bytes', () => {
    const id = kafkaClusterId('lab');
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(id, 'base64url')).toHaveLength(16);
  });

  it('is stable for a name and differs between names', () => {
    expect(kafkaClusterId('lab')).toBe(kafkaClusterId('lab'));
    const ids = new Set(['lab', 'ci', 'lab2', 'a'].map(kafkaClusterId));
    expect(ids.size).toBe(4);
  });
});

describe('parseServicesList', () => {
  it('splits on commas, trims, lower-cases and drops empty entries', () => {
    expect(parseServicesList(' Kafka, ,ELASTICSEARCH ,')).toEqual(['kafka', 'elasticsearch']);
    expect(parseServicesList('kibana')).toEqual(['kibana']);
    expect(parseServicesList('')).toEqual([]);
  });

  it('feeds resolveLabOptions, which reports the unknown name', () => {
    const error = caught(() => resolveLabOptions({ services: parseServicesList('kafka,Elastic') }));
    expect(error.code).toBe('UNKNOWN_SERVICE');
    expect(error.message).toContain("'elastic'");
  });
});
