/**
 * Names and labels of everything a lab creates. `lab down` finds its things by these labels only,
 * never by name patterns, so it cannot remove anything gapipe did not create for that lab.
 */
import type { ServiceName } from './options.js';

export const LABEL_MANAGED = 'org.gapipe.managed';
export const LABEL_LAB = 'org.gapipe.lab';
export const LABEL_SERVICE = 'org.gapipe.service';
export const LABEL_SPEC_HASH = 'org.gapipe.spec-hash';

export function labLabels(lab: string): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_LAB]: lab };
}

export function serviceLabels(lab: string, service: ServiceName): Record<string, string> {
  return { ...labLabels(lab), [LABEL_SERVICE]: service };
}

export function containerName(lab: string, service: ServiceName): string {
  return `gapipe-${lab}-${service}`;
}

export function networkName(lab: string): string {
  return `gapipe-${lab}`;
}

export function volumeName(lab: string, service: ServiceName): string {
  return `gapipe-${lab}-${service}-data`;
}
