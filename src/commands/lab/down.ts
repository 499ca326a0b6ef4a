import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { labNameFlag, labNameFromFlags } from '../../cli/lab-flags.js';
import { DockerodeFacade } from '../../lab/docker.js';
import { Lab, type LabDownResult } from '../../lab/lab.js';
import { createPlainLabReporter, renderLabDown } from '../../ui/lab.js';

export default class LabDown extends BaseCommand {
  static override summary = 'Remove the lab: exactly its containers and network (and volumes with --volumes)';
  static override description =
    `Finds the lab's containers, network and volumes by their gapipe labels and removes them; nothing without the lab's label is touched. Data volumes are kept unless --volumes is given. Needs Docker.`;

  static override examples = [
    { description: 'Remove the default lab, keep its data', command: '<%= config.bin %> lab down' },
    {
      description: 'Remove a named lab and its data',
      command: '<%= config.bin %> lab down --name ci --volumes',
    },
  ];

  static override flags = {
    ...labNameFlag,
    volumes: Flags.boolean({ description: 'Also remove the data volumes', default: false }),
  };

  async run(): Promise<LabDownResult> {
    const { flags } = await this.parse(LabDown);
    const name = labNameFromFlags(flags);
    const reporter = createPlainLabReporter(process.stderr, { quiet: flags.quiet || this.jsonEnabled() });
    const lab = new Lab({ docker: new DockerodeFacade({ logger: this.logger }), reporter });
    const result = await lab.down(name, { volumes: flags.volumes });
    if (!this.jsonEnabled()) process.stdout.write(renderLabDown(result));
    return result;
  }
}
