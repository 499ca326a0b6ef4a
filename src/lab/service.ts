/** What each lab service file provides: how to run its container, how to tell it is ready. */
import type { ContainerSpec } from './docker.js';
import type { LabOptions, ServiceName } from './options.js';
import type { WaitStrategy } from './wait.js';

export interface ServiceContext {
  options: LabOptions;
  network: string;
  labels: Record<string, string>;
  /** The host name clients on this machine use to reach published ports. */
  advertisedHost: string;
}

export interface ServiceDefinition<Handle> {
  name: ServiceName;
  containerSpec(ctx: ServiceContext): ContainerSpec;
  handle(ctx: ServiceContext): Handle;
  waitStrategy(handle: Handle): WaitStrategy;
  endpoint(handle: Handle): string;
}
