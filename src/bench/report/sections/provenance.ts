/** Provenance: versions, images and the host a run ran on, so a number can be traced to its setup. */
import type { BenchResult } from '../../types.js';
import { esc, formatBytes, formatDate, formatInt } from '../format.js';

export function renderProvenance(result: BenchResult): string {
  const { provenance } = result;
  const { host } = provenance;
  const libraries = Object.entries(provenance.libraries)
    .map(([name, version]) => `${esc(name)} ${esc(version)}`)
    .join(', ');
  const images = Object.entries(provenance.images);
  const imageRows =
    images.length > 0
      ? images
          .map(
            ([service, image]) =>
              `<tr><th>${esc(service)}</th><td><code>${esc(image.name)}</code> <span class="muted mono">${esc(shortImageId(image.id))}</span></td></tr>`,
          )
          .join('')
      : `<tr><th>Images</th><td class="muted">${result.config.target === 'embedded' ? 'none (embedded run)' : 'not recorded'}</td></tr>`;
  return `<section aria-labelledby="provenance"><h2 id="provenance">Provenance</h2>
<div class="scroll"><table class="kv">
<tr><th>gapipe</th><td>${esc(provenance.gapipeVersion)}</td></tr>
<tr><th>Node.js</th><td>${esc(provenance.node)}</td></tr>
<tr><th>Libraries</th><td>${libraries || '<span class="muted">—</span>'}</td></tr>
${engineSoftwareRow(result)}
${imageRows}
<tr><th>Host</th><td>${esc(host.hostname)} — ${esc(host.platform)}/${esc(host.arch)}, ${esc(formatInt(host.cpus))} × ${esc(host.cpuModel)}, ${esc(formatBytes(host.memoryBytes))} memory</td></tr>
<tr><th>Run</th><td>${esc(formatDate(result.startedAt))} → ${esc(formatDate(result.finishedAt))}</td></tr>
</table></div>
</section>`;
}

/** The engine's own software (the Spark engine's versions), where gapipe ran it. */
function engineSoftwareRow(result: BenchResult): string {
  const engine = result.summary.engine;
  if (!engine?.software) return '';
  const software = Object.entries(engine.software)
    .map(([name, version]) => `${esc(name)} ${esc(version)}`)
    .join(', ');
  return `<tr><th>Engine (${esc(engine.name)})</th><td>${software}</td></tr>`;
}

function shortImageId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
