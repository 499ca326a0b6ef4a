import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { withInterrupt } from '../../cli/interrupt.js';
import { labNameFlag, labNameFromFlags } from '../../cli/lab-flags.js';
import { GapipeError } from '../../errors.js';
import { DockerodeFacade } from '../../lab/docker.js';
import { Lab } from '../../lab/lab.js';
import { SERVICE_NAMES, type ServiceName } from '../../lab/options.js';

export default class LabLogs extends BaseCommand {
  static override summary = "Print a lab service's log (stdout to stdout, stderr to stderr)";
  static override description =
    `Reads the container's log from Docker and splits Docker's multiplexed stream back into the service's stdout and stderr. With --follow it keeps streaming until Ctrl-C. Needs Docker.`;

  static override enableJsonFlag = false;

  static override examples = [
    { description: "Kafka's last 100 lines", command: '<%= config.bin %> lab logs kafka' },
    { description: 'Follow Elasticsearch', command: '<%= config.bin %> lab logs elasticsearch --follow' },
  ];

  static override args = {
    service: Args.string({ description: `One of ${SERVICE_NAMES.join(', ')}`, required: true }),
  };

  static override flags = {
    ...labNameFlag,
    follow: Flags.boolean({ char: 'f', description: 'Keep streaming new lines', default: false }),
    tail: Flags.integer({ description: 'How many of the last lines to show first', default: 100 }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(LabLogs);
    const service = args.service.toLowerCase();
    if (!(SERVICE_NAMES as readonly string[]).includes(service)) {
      throw new GapipeError('UNKNOWN_SERVICE', `Unknown service '${args.service}'`, {
        nextSteps: `Choose one of ${SERVICE_NAMES.join(', ')}, e.g. \`gapipe lab logs kafka\``,
      });
    }
    if (flags.tail < 0) throw new GapipeError('INVALID_FLAG', `--tail must be 0 or more, got ${flags.tail}`);
    const lab = new Lab({ docker: new DockerodeFacade({ logger: this.logger }) });
    // Ctrl-C ends --follow; the log read so far is already out.
    await withInterrupt(({ signal }) =>
      lab.logs(
        labNameFromFlags(flags),
        service as ServiceName,
        { follow: flags.follow, tail: flags.tail, signal },
        (line) => (line.stream === 'stderr' ? process.stderr : process.stdout).write(`${line.text}\n`),
      ),
    );
  }
}
