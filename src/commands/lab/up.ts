import { BaseCommand } from '../../base-command.js';
import { labOptionsFromFlags, labUpFlags } from '../../cli/lab-flags.js';
import { DockerodeFacade } from '../../lab/docker.js';
import { Lab, type LabUpResult } from '../../lab/lab.js';
import { renderLabUp } from '../../ui/lab.js';
import { createLabReporter } from '../../ui/lab-progress.js';

export default class LabUp extends BaseCommand {
  static override summary = 'Start the lab in Docker: Kafka (KRaft), Elasticsearch and Kibana, provisioned';
  static override description =
    `Creates a labelled Docker network, volumes and one container per service, waits until each service answers its readiness check, then provisions the events topic (plus its -late and -dlq topics), the Elasticsearch index templates and the Kibana dashboard. Running it again on a healthy lab changes nothing. Ports are published on 127.0.0.1 only unless --bind says otherwise. Needs Docker.`;

  static override examples = [
    { description: 'Start everything with the defaults', command: '<%= config.bin %> lab up' },
    {
      description: 'Only Kafka and Elasticsearch, 12 partitions, other ports',
      command:
        '<%= config.bin %> lab up --services kafka,elasticsearch --partitions 12 --kafka-port 19092 --es-port 19200',
    },
    {
      description: 'Use locally built images',
      command:
        'GAPIPE_KAFKA_IMAGE=my/kafka:4.4.0 <%= config.bin %> lab up --es-image my/elasticsearch:8.19.21',
    },
    { description: 'Machine-readable endpoints', command: '<%= config.bin %> lab up --json' },
  ];

  static override flags = labUpFlags;

  async run(): Promise<LabUpResult> {
    const { flags } = await this.parse(LabUp);
    const options = labOptionsFromFlags(flags);
    const reporter = createLabReporter({ plain: this.plainOutput, quiet: flags.quiet || this.jsonEnabled() });
    const lab = new Lab({ docker: new DockerodeFacade({ logger: this.logger }), reporter });
    try {
      const result = await lab.up(options);
      reporter.done();
      if (!this.jsonEnabled()) process.stdout.write(renderLabUp(result));
      return result;
    } finally {
      reporter.done();
    }
  }
}
