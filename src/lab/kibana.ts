/** The lab's Kibana, talking to the lab's Elasticsearch over the lab network. */
import { elasticsearchHandle } from './elasticsearch.js';
import { containerName } from './naming.js';
import type { LabOptions } from './options.js';
import type { ServiceContext, ServiceDefinition } from './service.js';
import { kibanaStatusStrategy } from './wait.js';

export const KIBANA_CONTAINER_PORT = 5601;

/** The started Kibana service. */
export interface KibanaHandle {
  httpUrl(): string;
}

export function kibanaHandle(options: LabOptions, advertisedHost: string): KibanaHandle {
  return { httpUrl: () => `http://${advertisedHost}:${options.ports.kibana}` };
}

export const kibanaService: ServiceDefinition<KibanaHandle> = {
  name: 'kibana',
  handle: (ctx) => kibanaHandle(ctx.options, ctx.advertisedHost),
  containerSpec(ctx: ServiceContext) {
    const { options } = ctx;
    return {
      name: containerName(options.name, 'kibana'),
      image: options.images.kibana,
      env: {
        ELASTICSEARCH_HOSTS: elasticsearchHandle(options, ctx.advertisedHost).internalUrl(),
        SERVER_HOST: '0.0.0.0',
        SERVER_PUBLICBASEURL: kibanaHandle(options, ctx.advertisedHost).httpUrl(),
        TELEMETRY_OPTIN: 'false',
        NODE_OPTIONS: '--max-old-space-size=1024',
      },
      labels: ctx.labels,
      network: ctx.network,
      networkAliases: ['kibana'],
      ports: [{ containerPort: KIBANA_CONTAINER_PORT, hostIp: options.bind, hostPort: options.ports.kibana }],
      volumes: [],
    };
  },
  waitStrategy: (handle) => kibanaStatusStrategy(handle.httpUrl()),
  endpoint: (handle) => handle.httpUrl(),
};
