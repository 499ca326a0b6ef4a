/**
 * `gapipe --version --json`: oclif answers `--version` before any command runs, in plain text only. The
 * entry point asks this module first, so scripts get the same facts as JSON.
 */
export interface VersionInfo {
  name: string;
  version: string;
  node: string;
  platform: string;
  arch: string;
}

/** The JSON line for `--version --json` (or `-v --json`) as the only arguments; undefined otherwise. */
export function versionJson(
  args: readonly string[],
  pjson: { name: string; version: string },
  runtime: { node: string; platform: string; arch: string } = {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
  },
): string | undefined {
  const asksVersion = args.includes('--version') || args.includes('-v');
  const onlyVersionAndJson = args.every((a) => a === '--version' || a === '-v' || a === '--json');
  if (!asksVersion || !args.includes('--json') || !onlyVersionAndJson) return undefined;
  const info: VersionInfo = { name: pjson.name, version: pjson.version, ...runtime };
  return `${JSON.stringify(info, null, 2)}\n`;
}
