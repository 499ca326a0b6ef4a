import { BaseCommand } from '../../base-command.js';
import { labNameFlag, labNameFromFlags } from '../../cli/lab-flags.js';
import { DockerodeFacade } from '../../lab/docker.js';
import { Lab, type LabStatusResult } from '../../lab/lab.js';
import { renderLabStatus } from '../../ui/lab.js';

export default class LabStatus extends BaseCommand {
  static override summary = "Show each lab service's container state, readiness and endpoint";
  static override description =
    `Runs each service's readiness check once (Kafka: metadata request, Elasticsearch: cluster health, Kibana: status API). Exits 0 when every service of the lab is healthy, 1 otherwise (also when there is no lab). Needs Docker.`;

  static override examples = [
    { description: 'Status of the default lab', command: '<%= config.bin %> lab status' },
    { description: 'As JSON, for scripts', command: '<%= config.bin %> lab status --json' },
  ];

  static override flags = { ...labNameFlag };

  async run(): Promise<LabStatusResult> {
    const { flags } = await this.parse(LabStatus);
    const lab = new Lab({ docker: new DockerodeFacade({ logger: this.logger }) });
    const result = await lab.status(labNameFromFlags(flags));
    if (!this.jsonEnabled()) process.stdout.write(renderLabStatus(result));
    if (!result.healthy) process.exitCode = 1;
    return result;
  }
}
