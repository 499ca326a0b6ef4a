import { describe, expect, it } from 'vitest';
import { versionJson } from '../../src/cli/version.js';

const pjson = { name: 'gapipe', version: '1.2.3' };
const runtime = { node: 'v20.20.2', platform: 'linux', arch: 'x64' };

describe('versionJson', () => {
  it('answers --version --json (either order, or -v) with the version facts as JSON', () => {
    for (const args of [
      ['--version', '--json'],
      ['--json', '--version'],
      ['-v', '--json'],
    ]) {
      expect(JSON.parse(versionJson(args, pjson, runtime) ?? 'null')).toEqual({
        name: 'gapipe',
        version: '1.2.3',
        node: 'v20.20.2',
        platform: 'linux',
        arch: 'x64',
      });
    }
  });

  it('leaves everything else to oclif', () => {
    expect(versionJson(['--version'], pjson, runtime)).toBeUndefined();
    expect(versionJson(['bench', '--json'], pjson, runtime)).toBeUndefined();
    expect(versionJson(['simulate', '--version', '--json'], pjson, runtime)).toBeUndefined();
    expect(versionJson([], pjson, runtime)).toBeUndefined();
  });
});
