/**
 * The lab's Elasticsearch: one node, security off (a local lab; see the --bind warning), heap sized
 * for a laptop, configured through the official image's "settings as environment variables" contract.
 */
import { containerName, volumeName } from './naming.js';
import type { LabOptions } from './options.js';
import type { ServiceContext, ServiceDefinition } from './service.js';
import { elasticsearchHealthStrategy } from './wait.js';

export const ELASTICSEARCH_CONTAINER_PORT = 9200;
export const ELASTICSEARCH_DATA_DIR = '/usr/share/elasticsearch/data';

/** The started Elasticsearch service. */
export interface ElasticsearchHandle {
  /** URL for clients on this machine. */
  httpUrl(): string;
  /** URL for containers on the lab network (Kibana). */
  internalUrl(): string;
}

export function elasticsearchHandle(options: LabOptions, advertisedHost: string): ElasticsearchHandle {
  return {
    httpUrl: () => `http://${advertisedHost}:${options.ports.elasticsearch}`,
    internalUrl: () =>
      `http://${containerName(options.name, 'elasticsearch')}:${ELASTICSEARCH_CONTAINER_PORT}`,
  };
}

export const elasticsearchService: ServiceDefinition<ElasticsearchHandle> = {
  name: 'elasticsearch',
  handle: (ctx) => elasticsearchHandle(ctx.options, ctx.advertisedHost),
  containerSpec(ctx: ServiceContext) {
    const { options } = ctx;
    return {
      name: containerName(options.name, 'elasticsearch'),
      image: options.images.elasticsearch,
      env: {
        'discovery.type': 'single-node',
        'cluster.name': `gapipe-${options.name}`,
        'xpack.security.enabled': 'false',
        // A laptop disk past 90% full must not turn the lab's indices read-only.
        'cluster.routing.allocation.disk.threshold_enabled': 'false',
        ES_JAVA_OPTS: `-Xms${options.elasticsearchHeapMb}m -Xmx${options.elasticsearchHeapMb}m`,
      },
      labels: ctx.labels,
      network: ctx.network,
      networkAliases: ['elasticsearch'],
      ports: [
        {
          containerPort: ELASTICSEARCH_CONTAINER_PORT,
          hostIp: options.bind,
          hostPort: options.ports.elasticsearch,
        },
      ],
      volumes: [{ volume: volumeName(options.name, 'elasticsearch'), path: ELASTICSEARCH_DATA_DIR }],
    };
  },
  waitStrategy: (handle) => elasticsearchHealthStrategy(handle.httpUrl()),
  endpoint: (handle) => handle.httpUrl(),
};
