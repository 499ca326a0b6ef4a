/**
 * A hand-written, in-memory stand-in for the Docker engine behind `DockerFacade`. It keeps images,
 * containers, networks and volumes with their labels, filters by labels the way the engine does
 * (every given label must match), and records each call so tests can check what the lab asked for.
 */
import type { LogLine } from '../../src/lab/demux.js';
import {
  type ContainerInfo,
  type ContainerSpec,
  type DockerFacade,
  dockerUnreachable,
  imageMissing,
  type NetworkInfo,
  type PullProgress,
  type VolumeInfo,
} from '../../src/lab/docker.js';

export interface FakeContainer {
  info: ContainerInfo;
  /** The spec it was created from (absent for containers seeded by a test). */
  spec?: ContainerSpec;
  logs: LogLine[];
}

export interface FakeCall {
  op: keyof DockerFacade;
  args: unknown[];
}

function matches(have: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([key, value]) => have[key] === value);
}

export class FakeDocker implements DockerFacade {
  readonly endpoint = 'unix:///fake/docker.sock';
  readonly calls: FakeCall[] = [];
  /** Images present on the fake engine. */
  readonly images = new Set<string>();
  /** Images a pull can fetch; pulling anything else fails like a registry without that tag. */
  readonly registry = new Set<string>();
  readonly containers = new Map<string, FakeContainer>();
  readonly networks = new Map<string, NetworkInfo>();
  readonly volumes = new Map<string, VolumeInfo>();

  memTotalBytes = 16 * 1024 ** 3;
  /** When true, `ping` fails the way the real facade does when no engine answers. */
  unreachable = false;
  /** Decides what a started container does: 'running' (default) or 'exited' (it crashed). */
  onStart: (container: FakeContainer) => 'running' | 'exited' = () => 'running';
  /** Log lines a container gets when it is created. */
  logsFor: (spec: ContainerSpec) => string[] = () => [];
  /** When set, `startContainer` throws what it returns for that container. */
  startError: ((container: FakeContainer) => Error | undefined) | undefined;

  private nextId = 1;

  private record(op: keyof DockerFacade, ...args: unknown[]): void {
    this.calls.push({ op, args });
  }

  private newId(): string {
    const id = (this.nextId++).toString(16).padStart(12, '0');
    return `${id}${'f'.repeat(52)}`;
  }

  /** Calls of one operation, in order. */
  callsOf(op: keyof DockerFacade): unknown[][] {
    return this.calls.filter((c) => c.op === op).map((c) => c.args);
  }

  /** Puts a container on the engine without going through the facade (things a test starts with). */
  seedContainer(options: {
    name: string;
    image?: string;
    labels?: Record<string, string>;
    state?: string;
  }): string {
    const id = this.newId();
    const state = options.state ?? 'running';
    this.containers.set(id, {
      info: {
        id,
        name: options.name,
        image: options.image ?? 'busybox:latest',
        imageId: `sha256:${options.image ?? 'busybox'}`,
        labels: options.labels ?? {},
        state,
        running: state === 'running',
        ports: [],
      },
      logs: [],
    });
    return id;
  }

  seedNetwork(name: string, labels: Record<string, string> = {}): string {
    const id = this.newId();
    this.networks.set(id, { id, name, labels });
    return id;
  }

  seedVolume(name: string, labels: Record<string, string> = {}): void {
    this.volumes.set(name, { name, labels });
  }

  containerNamed(name: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => c.info.name === name);
  }

  private setState(container: FakeContainer, state: string): void {
    container.info.state = state;
    container.info.running = state === 'running';
  }

  async ping(): Promise<void> {
    this.record('ping');
    if (this.unreachable) {
      throw dockerUnreachable(this.endpoint, Object.assign(new Error('connect ENOENT'), { code: 'ENOENT' }));
    }
  }

  async info(): Promise<{ memTotalBytes: number; serverVersion: string; cpus: number }> {
    this.record('info');
    return { memTotalBytes: this.memTotalBytes, serverVersion: '27.0.0-fake', cpus: 4 };
  }

  async imageId(ref: string): Promise<string | undefined> {
    this.record('imageId', ref);
    return this.images.has(ref) ? `sha256:${ref}` : undefined;
  }

  async pullImage(ref: string, onProgress: (progress: PullProgress) => void): Promise<void> {
    this.record('pullImage', ref);
    if (!this.registry.has(ref)) throw imageMissing(ref, new Error(`manifest for ${ref} not found`));
    onProgress({ image: ref, status: 'Pulling fs layer', layer: 'layer1' });
    onProgress({ image: ref, status: 'Downloading', layer: 'layer1', current: 512, total: 1024 });
    onProgress({ image: ref, status: 'Download complete', layer: 'layer1', current: 1024, total: 1024 });
    this.images.add(ref);
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    this.record('listContainers', labels);
    return [...this.containers.values()]
      .filter((c) => matches(c.info.labels, labels))
      .map((c) => structuredClone(c.info));
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    this.record('createContainer', spec);
    if (!this.images.has(spec.image)) throw imageMissing(spec.image, new Error('No such image'));
    if (this.containerNamed(spec.name))
      throw new Error(`Conflict: the container name ${spec.name} is in use`);
    if (![...this.networks.values()].some((n) => n.name === spec.network)) {
      throw new Error(`network ${spec.network} not found`);
    }
    const id = this.newId();
    this.containers.set(id, {
      info: {
        id,
        name: spec.name,
        image: spec.image,
        imageId: `sha256:${spec.image}`,
        labels: { ...spec.labels },
        state: 'created',
        running: false,
        ports: spec.ports.map((p) => ({ ...p })),
      },
      spec: structuredClone(spec),
      logs: this.logsFor(spec).map((text) => ({ stream: 'stdout', text })),
    });
    return id;
  }

  private mustGet(id: string): FakeContainer {
    const container = this.containers.get(id);
    if (!container) throw new Error(`No such container: ${id}`);
    return container;
  }

  async startContainer(id: string): Promise<void> {
    this.record('startContainer', id);
    const container = this.mustGet(id);
    const error = this.startError?.(container);
    if (error) throw error;
    this.setState(container, this.onStart(container));
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    this.record('stopContainer', id, timeoutSeconds);
    const container = this.containers.get(id);
    if (container) this.setState(container, 'exited');
  }

  async removeContainer(id: string): Promise<void> {
    this.record('removeContainer', id);
    this.containers.delete(id);
  }

  async inspectContainer(id: string): Promise<ContainerInfo | undefined> {
    this.record('inspectContainer', id);
    const container = this.containers.get(id);
    return container ? structuredClone(container.info) : undefined;
  }

  async pauseContainer(id: string): Promise<void> {
    this.record('pauseContainer', id);
    this.setState(this.mustGet(id), 'paused');
  }

  async unpauseContainer(id: string): Promise<void> {
    this.record('unpauseContainer', id);
    this.setState(this.mustGet(id), 'running');
  }

  async containerLogs(id: string, tail: number): Promise<LogLine[]> {
    this.record('containerLogs', id, tail);
    const logs = this.containers.get(id)?.logs ?? [];
    return logs.slice(Math.max(0, logs.length - tail));
  }

  async followContainerLogs(
    id: string,
    tail: number,
    onLine: (line: LogLine) => void,
    _signal?: AbortSignal,
  ): Promise<void> {
    this.record('followContainerLogs', id, tail);
    for (const line of await this.containerLogs(id, tail)) onLine(line);
  }

  async listNetworks(labels: Record<string, string>): Promise<NetworkInfo[]> {
    this.record('listNetworks', labels);
    return [...this.networks.values()].filter((n) => matches(n.labels, labels)).map((n) => ({ ...n }));
  }

  async createNetwork(name: string, labels: Record<string, string>): Promise<string> {
    this.record('createNetwork', name, labels);
    if ([...this.networks.values()].some((n) => n.name === name)) throw new Error(`network ${name} exists`);
    return this.seedNetwork(name, { ...labels });
  }

  async removeNetwork(id: string): Promise<void> {
    this.record('removeNetwork', id);
    this.networks.delete(id);
  }

  async listVolumes(labels: Record<string, string>): Promise<VolumeInfo[]> {
    this.record('listVolumes', labels);
    return [...this.volumes.values()].filter((v) => matches(v.labels, labels)).map((v) => ({ ...v }));
  }

  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    this.record('createVolume', name, labels);
    if (this.volumes.has(name)) throw new Error(`volume ${name} exists`);
    this.seedVolume(name, { ...labels });
  }

  async removeVolume(name: string): Promise<void> {
    this.record('removeVolume', name);
    this.volumes.delete(name);
  }
}
