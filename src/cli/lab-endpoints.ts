/**
 * `--lab NAME` for the commands that talk to a lab's Kafka and Elasticsearch (simulate, consume,
 * verify): the endpoints come from the lab's container labels, so a lab on other ports needs no
 * `--brokers`/`--es`. Flags that name an endpoint still win.
 */
import { Flags } from '@oclif/core';
import { GapipeError } from '../errors.js';
import { DockerodeFacade } from '../lab/docker.js';
import { Lab } from '../lab/lab.js';

export const labEndpointFlag = {
  lab: Flags.string({
    description:
      // oclif shows the variable itself ([env: GAPIPE_LAB]) for a flag with `env`.
      "Take Kafka's and Elasticsearch's endpoints from this lab (see `gapipe lab status`)",
    env: 'GAPIPE_LAB',
  }),
};

/** What the commands need from a lab; injectable for tests. */
export type EndpointLookup = (
  lab: string,
) => Promise<Partial<Record<'kafka' | 'elasticsearch' | 'kibana', string>>>;

const dockerLookup: EndpointLookup = (lab) => new Lab({ docker: new DockerodeFacade() }).endpoints(lab);

/**
 * The brokers and Elasticsearch URL to use: explicit flags first, then the lab's, else undefined (the
 * command's own defaults apply). `needs` names what the command uses, so a lab without it is an error.
 */
export async function endpointsFromLab(
  lab: string | undefined,
  explicit: { brokers?: string | undefined; es?: string | undefined },
  needs: ReadonlyArray<'kafka' | 'elasticsearch'>,
  lookup: EndpointLookup = dockerLookup,
): Promise<{ brokers?: string | undefined; es?: string | undefined }> {
  const wantKafka = needs.includes('kafka') && explicit.brokers === undefined;
  const wantEs = needs.includes('elasticsearch') && explicit.es === undefined;
  if (lab === undefined || (!wantKafka && !wantEs)) return explicit;
  const endpoints = await lookup(lab);
  for (const [service, wanted, flag] of [
    ['kafka', wantKafka, '--brokers'],
    ['elasticsearch', wantEs, '--es'],
  ] as const) {
    if (wanted && endpoints[service] === undefined) {
      throw new GapipeError('LAB_NOT_FOUND', `Lab '${lab}' has no ${service}`, {
        nextSteps: `Start it with \`gapipe lab up --name ${lab} --services kafka,elasticsearch\`, or name it with ${flag}`,
      });
    }
  }
  return {
    brokers: explicit.brokers ?? (wantKafka ? endpoints.kafka : undefined),
    es: explicit.es ?? (wantEs ? endpoints.elasticsearch : undefined),
  };
}
