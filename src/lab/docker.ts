/**
 * A small facade over dockerode: one verb per Docker operation the lab needs. Each verb logs what it
 * does (with the short container id) and rethrows with context, so callers and users see which
 * operation failed. Unit tests use a hand-written fake of `DockerFacade`; e2e tests a real engine.
 */
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { GapipeError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { collectDemuxed, createDemuxer, type LogLine } from './demux.js';

export interface PortBinding {
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

export interface ContainerSpec {
  name: string;
  image: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  network: string;
  networkAliases: string[];
  ports: PortBinding[];
  volumes: Array<{ volume: string; path: string }>;
  memoryBytes?: number;
  cmd?: string[];
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  imageId: string;
  labels: Record<string, string>;
  state: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead' | string;
  running: boolean;
  ports: PortBinding[];
}

export interface NetworkInfo {
  id: string;
  name: string;
  labels: Record<string, string>;
}

export interface VolumeInfo {
  name: string;
  labels: Record<string, string>;
}

export interface PullProgress {
  image: string;
  status: string;
  layer?: string;
  current?: number;
  total?: number;
}

export interface DockerFacade {
  /** Where the engine is, for messages ("unix:///var/run/docker.sock"). */
  readonly endpoint: string;
  ping(): Promise<void>;
  info(): Promise<{ memTotalBytes: number; serverVersion: string; cpus: number }>;
  imageId(ref: string): Promise<string | undefined>;
  pullImage(ref: string, onProgress: (progress: PullProgress) => void): Promise<void>;
  listContainers(labels: Record<string, string>): Promise<ContainerInfo[]>;
  createContainer(spec: ContainerSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  inspectContainer(id: string): Promise<ContainerInfo | undefined>;
  pauseContainer(id: string): Promise<void>;
  unpauseContainer(id: string): Promise<void>;
  /** The last `tail` lines of a container's log, stdout and stderr demultiplexed. */
  containerLogs(id: string, tail: number): Promise<LogLine[]>;
  /** A live log stream (demultiplexed); ends when the container stops or `signal` aborts. */
  followContainerLogs(
    id: string,
    tail: number,
    onLine: (line: LogLine) => void,
    signal?: AbortSignal,
  ): Promise<void>;
  listNetworks(labels: Record<string, string>): Promise<NetworkInfo[]>;
  createNetwork(name: string, labels: Record<string, string>): Promise<string>;
  removeNetwork(id: string): Promise<void>;
  listVolumes(labels: Record<string, string>): Promise<VolumeInfo[]>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  removeVolume(name: string): Promise<void>;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function labelFilter(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([key, value]) => `${key}=${value}`);
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number } | undefined)?.statusCode;
}

/** The connection errors that mean "no engine there", as opposed to an operation failing. */
const UNREACHABLE_CODES = new Set([
  'ENOENT',
  'ECONNREFUSED',
  'EACCES',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ENOTFOUND',
]);

export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || 'unix:///var/run/docker.sock';
}

export function dockerUnreachable(endpoint: string, cause?: unknown): GapipeError {
  return new GapipeError('DOCKER_UNREACHABLE', `Docker is not reachable at ${endpoint}`, {
    cause,
    nextSteps:
      'Start Docker (or run `npm run infra:up` in a gapipe checkout), or set DOCKER_HOST to where your engine listens',
  });
}

export class DockerodeFacade implements DockerFacade {
  readonly endpoint: string;
  private readonly docker: Docker;
  private readonly logger: Logger;

  /** dockerode reads DOCKER_HOST (and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) itself. */
  constructor(options: { logger?: Logger; docker?: Docker; env?: NodeJS.ProcessEnv } = {}) {
    this.docker = options.docker ?? new Docker();
    this.logger = options.logger ?? silentLogger;
    this.endpoint = dockerEndpoint(options.env);
  }

  private fail(operation: string, error: unknown): never {
    if (error instanceof GapipeError) throw error;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code && UNREACHABLE_CODES.has(code)) throw dockerUnreachable(this.endpoint, error);
    const message = (error as Error | undefined)?.message ?? String(error);
    throw new GapipeError('DOCKER_OPERATION_FAILED', `Docker could not ${operation}: ${message}`, {
      cause: error,
    });
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (error) {
      throw dockerUnreachable(this.endpoint, error);
    }
  }

  async info(): Promise<{ memTotalBytes: number; serverVersion: string; cpus: number }> {
    try {
      const info = await this.docker.info();
      return { memTotalBytes: info.MemTotal, serverVersion: info.ServerVersion, cpus: info.NCPU };
    } catch (error) {
      this.fail('read engine info', error);
    }
  }

  async imageId(ref: string): Promise<string | undefined> {
    try {
      const image = await this.docker.getImage(ref).inspect();
      return image.Id;
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      this.fail(`inspect image ${ref}`, error);
    }
  }

  async pullImage(ref: string, onProgress: (progress: PullProgress) => void): Promise<void> {
    this.logger.debug(`docker pull ${ref}`);
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.pull(ref);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      if (code && UNREACHABLE_CODES.has(code) && !statusCode(error))
        throw dockerUnreachable(this.endpoint, error);
      throw imageMissing(ref, error);
    }
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? reject(imageMissing(ref, error)) : resolve()),
        (event: {
          status?: string;
          id?: string;
          error?: string;
          progressDetail?: { current?: number; total?: number };
        }) => {
          if (event.error) {
            reject(imageMissing(ref, new Error(event.error)));
            return;
          }
          const progress: PullProgress = { image: ref, status: event.status ?? '' };
          if (event.id) progress.layer = event.id;
          if (event.progressDetail?.current !== undefined) progress.current = event.progressDetail.current;
          if (event.progressDetail?.total !== undefined) progress.total = event.progressDetail.total;
          onProgress(progress);
        },
      );
    });
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    try {
      const list = await this.docker.listContainers({ all: true, filters: { label: labelFilter(labels) } });
      return list.map((c) => ({
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        image: c.Image,
        imageId: c.ImageID,
        labels: c.Labels,
        state: c.State,
        running: c.State === 'running',
        ports: c.Ports.filter((p) => p.PublicPort !== undefined).map((p) => ({
          containerPort: p.PrivatePort,
          hostIp: p.IP ?? '',
          hostPort: p.PublicPort,
        })),
      }));
    } catch (error) {
      this.fail('list containers', error);
    }
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
    for (const port of spec.ports) {
      exposed[`${port.containerPort}/tcp`] = {};
      bindings[`${port.containerPort}/tcp`] = [{ HostIp: port.hostIp, HostPort: String(port.hostPort) }];
    }
    try {
      const container = await this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        Labels: spec.labels,
        ExposedPorts: exposed,
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        HostConfig: {
          PortBindings: bindings,
          Binds: spec.volumes.map((v) => `${v.volume}:${v.path}`),
          NetworkMode: spec.network,
          ...(spec.memoryBytes ? { Memory: spec.memoryBytes } : {}),
        },
        NetworkingConfig: { EndpointsConfig: { [spec.network]: { Aliases: spec.networkAliases } } },
      });
      this.logger.debug(`created container ${spec.name} (${shortId(container.id)}) from ${spec.image}`);
      return container.id;
    } catch (error) {
      if (statusCode(error) === 404) throw imageMissing(spec.image, error);
      this.fail(`create container ${spec.name}`, error);
    }
  }

  async startContainer(id: string): Promise<void> {
    this.logger.debug(`starting container ${shortId(id)}`);
    try {
      await this.docker.getContainer(id).start();
    } catch (error) {
      if (statusCode(error) === 304) return; // already running
      const message = (error as Error).message ?? '';
      const port = /(?:port is already allocated|address already in use).*?(\d{2,5})?/i.exec(message);
      if (port) {
        throw new GapipeError('PORT_IN_USE', `Container ${shortId(id)} could not bind its port: ${message}`, {
          cause: error,
          nextSteps:
            'Stop whatever uses that port, or choose another with --kafka-port / --es-port / --kibana-port',
        });
      }
      this.fail(`start container ${shortId(id)}`, error);
    }
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    this.logger.debug(`stopping container ${shortId(id)}`);
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (error) {
      if (statusCode(error) === 304 || statusCode(error) === 404) return;
      this.fail(`stop container ${shortId(id)}`, error);
    }
  }

  async removeContainer(id: string): Promise<void> {
    this.logger.debug(`removing container ${shortId(id)}`);
    try {
      await this.docker.getContainer(id).remove({ force: true, v: false });
    } catch (error) {
      if (statusCode(error) === 404) return;
      this.fail(`remove container ${shortId(id)}`, error);
    }
  }

  async inspectContainer(id: string): Promise<ContainerInfo | undefined> {
    try {
      const c = await this.docker.getContainer(id).inspect();
      const ports: PortBinding[] = [];
      for (const [key, bindings] of Object.entries(c.NetworkSettings?.Ports ?? {})) {
        for (const b of bindings ?? []) {
          ports.push({
            containerPort: Number.parseInt(key, 10),
            hostIp: b.HostIp,
            hostPort: Number(b.HostPort),
          });
        }
      }
      return {
        id: c.Id,
        name: c.Name.replace(/^\//, ''),
        image: c.Config.Image,
        imageId: c.Image,
        labels: c.Config.Labels ?? {},
        state: c.State.Status,
        running: c.State.Running,
        ports,
      };
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      this.fail(`inspect container ${shortId(id)}`, error);
    }
  }

  async pauseContainer(id: string): Promise<void> {
    this.logger.debug(`pausing container ${shortId(id)}`);
    try {
      await this.docker.getContainer(id).pause();
    } catch (error) {
      this.fail(`pause container ${shortId(id)}`, error);
    }
  }

  async unpauseContainer(id: string): Promise<void> {
    this.logger.debug(`unpausing container ${shortId(id)}`);
    try {
      await this.docker.getContainer(id).unpause();
    } catch (error) {
      this.fail(`unpause container ${shortId(id)}`, error);
    }
  }

  async containerLogs(id: string, tail: number): Promise<LogLine[]> {
    try {
      const container = this.docker.getContainer(id);
      const raw = (await container.logs({
        stdout: true,
        stderr: true,
        tail,
        follow: false,
      })) as unknown as Buffer;
      const tty = (await container.inspect()).Config.Tty;
      return collectDemuxed(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)), tty);
    } catch (error) {
      if (statusCode(error) === 404) return [];
      this.fail(`read logs of container ${shortId(id)}`, error);
    }
  }

  async followContainerLogs(
    id: string,
    tail: number,
    onLine: (line: LogLine) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    let stream: Readable;
    let tty: boolean;
    try {
      const container = this.docker.getContainer(id);
      tty = (await container.inspect()).Config.Tty;
      stream = (await container.logs({
        stdout: true,
        stderr: true,
        tail,
        follow: true,
      })) as unknown as Readable;
    } catch (error) {
      this.fail(`follow logs of container ${shortId(id)}`, error);
    }
    const demuxer = createDemuxer(onLine, tty);
    await new Promise<void>((resolve, reject) => {
      const stop = () => {
        stream.destroy();
        demuxer.end();
        resolve();
      };
      signal?.addEventListener('abort', stop, { once: true });
      stream.on('data', (chunk: Buffer) => demuxer.push(chunk));
      stream.on('end', stop);
      stream.on('close', stop);
      stream.on('error', (error) => (signal?.aborted ? resolve() : reject(error)));
    });
  }

  async listNetworks(labels: Record<string, string>): Promise<NetworkInfo[]> {
    try {
      const list = await this.docker.listNetworks({ filters: { label: labelFilter(labels) } });
      return list.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
    } catch (error) {
      this.fail('list networks', error);
    }
  }

  async createNetwork(name: string, labels: Record<string, string>): Promise<string> {
    this.logger.debug(`creating network ${name}`);
    try {
      const network = await this.docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels });
      return network.id;
    } catch (error) {
      this.fail(`create network ${name}`, error);
    }
  }

  async removeNetwork(id: string): Promise<void> {
    this.logger.debug(`removing network ${shortId(id)}`);
    try {
      await this.docker.getNetwork(id).remove();
    } catch (error) {
      if (statusCode(error) === 404) return;
      this.fail(`remove network ${shortId(id)}`, error);
    }
  }

  async listVolumes(labels: Record<string, string>): Promise<VolumeInfo[]> {
    try {
      const list = await this.docker.listVolumes({ filters: { label: labelFilter(labels) } });
      return (list.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
    } catch (error) {
      this.fail('list volumes', error);
    }
  }

  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    this.logger.debug(`creating volume ${name}`);
    try {
      await this.docker.createVolume({ Name: name, Labels: labels });
    } catch (error) {
      this.fail(`create volume ${name}`, error);
    }
  }

  async removeVolume(name: string): Promise<void> {
    this.logger.debug(`removing volume ${name}`);
    try {
      await this.docker.getVolume(name).remove();
    } catch (error) {
      if (statusCode(error) === 404) return;
      this.fail(`remove volume ${name}`, error);
    }
  }
}

export function imageMissing(ref: string, cause: unknown): GapipeError {
  return new GapipeError('IMAGE_MISSING', `Image ${ref} is not on this machine and could not be pulled`, {
    cause,
    nextSteps: `Pull it where a registry is reachable (docker pull ${ref}), or point gapipe at an image you have with --<service>-image or GAPIPE_<SERVICE>_IMAGE`,
  });
}
