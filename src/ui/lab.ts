/** Rendering of the lab commands' results and progress. */
import chalk from 'chalk';
import type { PullProgress } from '../lab/docker.js';
import type { LabDownResult, LabReporter, LabStatusResult, LabUpResult } from '../lab/lab.js';
import { formatBytes } from './simulate.js';
import { renderTable } from './table.js';

export function renderLabUp(result: LabUpResult): string {
  const rows = result.services.map((s) => [s.service, s.endpoint, s.status, s.container, s.image]);
  const lines = [renderTable(['service', 'endpoint', 'status', 'container', 'image'], rows)];
  const p = result.provisioning;
  const provisioned: string[] = [];
  for (const t of p.topics ?? [])
    provisioned.push(`topic ${t.topic} (${t.partitions} partitions): ${t.status}`);
  for (const t of p.indexTemplates ?? []) {
    provisioned.push(`index template ${t.template}: ${t.status}; index ${t.index}: ${t.indexStatus}`);
  }
  if (p.kibana) provisioned.push(`kibana saved objects (${p.kibana.objects.length}): ${p.kibana.status}`);
  if (provisioned.length > 0) lines.push('', ...provisioned);
  lines.push(
    '',
    result.changed
      ? `Lab '${result.lab}' is up.`
      : `Lab '${result.lab}' was already up and healthy; nothing changed.`,
  );
  if (result.endpoints.kibana) {
    lines.push(`Dashboard: ${result.endpoints.kibana}/app/dashboards#/view/gapipe-overview`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderLabStatus(result: LabStatusResult): string {
  if (!result.exists) return `No lab named '${result.lab}' (start one with \`gapipe lab up\`).\n`;
  const rows = result.services.map((s) => [
    s.service,
    s.healthy ? 'healthy' : 'unhealthy',
    s.state,
    s.endpoint ?? '',
    s.detail ?? '',
  ]);
  return `${renderTable(['service', 'health', 'state', 'endpoint', 'detail'], rows)}\n`;
}

export function renderLabDown(result: LabDownResult): string {
  const removed = [
    ...result.containers.map((c) => `container ${c}`),
    ...result.networks.map((n) => `network ${n}`),
    ...result.volumes.map((v) => `volume ${v}`),
  ];
  const kept =
    result.keptVolumes.length === 0
      ? ''
      : ` Kept ${result.keptVolumes.map((v) => `volume ${v}`).join(', ')} (its data; \`gapipe lab down --name ${result.lab} --volumes\` removes them too).`;
  if (removed.length === 0) {
    return result.keptVolumes.length === 0
      ? `Nothing to remove: no lab named '${result.lab}'.\n`
      : `Lab '${result.lab}' has no containers or network left.${kept}\n`;
  }
  return `Removed ${removed.join(', ')}.${kept}\n`;
}

/**
 * Progress as plain lines on stderr. Pull progress is summarised per image every few seconds so a
 * CI log stays readable while showing that the pull moves.
 */
export function createPlainLabReporter(
  stream: NodeJS.WritableStream = process.stderr,
  options: { quiet?: boolean; now?: () => number } = {},
): LabReporter {
  const now = options.now ?? Date.now;
  const layers = new Map<string, Map<string, { current: number; total: number }>>();
  const lastPrinted = new Map<string, number>();
  const write = (line: string) => {
    if (!options.quiet) stream.write(`${line}\n`);
  };
  return {
    step: (message) => write(`• ${message}`),
    warn: (message) => stream.write(`${chalk.yellow('warning')} ${message}\n`),
    pull(progress: PullProgress) {
      const image = layers.get(progress.image) ?? new Map();
      layers.set(progress.image, image);
      if (progress.layer && progress.total) {
        image.set(progress.layer, { current: progress.current ?? 0, total: progress.total });
      }
      const t = now();
      const previous = lastPrinted.get(progress.image);
      if (previous !== undefined && t - previous < 3000) return;
      lastPrinted.set(progress.image, t);
      let current = 0;
      let total = 0;
      for (const l of image.values()) {
        current += l.current;
        total += l.total;
      }
      write(
        total > 0
          ? `  pulling ${progress.image}: ${formatBytes(current)} / ${formatBytes(total)} (${image.size} layers)`
          : `  pulling ${progress.image}: ${progress.status}`,
      );
    },
  };
}
