/**
 * One error hierarchy for gapipe. Services throw `GapipeError`s; the base command renders them in
 * one place. Every code a user can meet is listed here, so the table test can walk them all.
 */

export const ERROR_CODES = {
  INVALID_FLAG: { exitCode: 2, title: 'Invalid flag' },
  INVALID_ARGUMENT: { exitCode: 2, title: 'Invalid argument' },
  INVALID_CONFIG: { exitCode: 2, title: 'Invalid configuration file' },
  DOCKER_UNREACHABLE: { exitCode: 3, title: 'Docker is not reachable' },
  DOCKER_OPERATION_FAILED: { exitCode: 3, title: 'A Docker operation failed' },
  PORT_IN_USE: { exitCode: 4, title: 'Port already in use' },
  IMAGE_MISSING: { exitCode: 4, title: 'Image missing and cannot be pulled' },
  INSUFFICIENT_MEMORY: { exitCode: 4, title: 'Not enough memory' },
  SERVICE_NOT_READY: { exitCode: 5, title: 'Service did not become ready' },
  LAB_NOT_FOUND: { exitCode: 6, title: 'Lab not found' },
  UNKNOWN_SERVICE: { exitCode: 2, title: 'Unknown service' },
  PROVISIONING_FAILED: { exitCode: 5, title: 'Provisioning failed' },
  KAFKA_UNREACHABLE: { exitCode: 5, title: 'Kafka is not reachable' },
  ELASTICSEARCH_UNREACHABLE: { exitCode: 5, title: 'Elasticsearch is not reachable' },
  KIBANA_UNREACHABLE: { exitCode: 5, title: 'Kibana is not reachable' },
  SINK_FAILED: { exitCode: 7, title: 'The event sink failed' },
  ENGINE_SETUP_FAILED: { exitCode: 9, title: 'The engine could not be set up' },
  ENGINE_FAILED: { exitCode: 10, title: 'The engine failed' },
  KAFKA_RECORDS_GONE: { exitCode: 8, title: 'Records the consumer needs are gone from Kafka' },
  INTERNAL: { exitCode: 70, title: 'Internal error (a bug in gapipe)' },
} as const satisfies Record<string, { exitCode: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface GapipeErrorOptions {
  /** One line telling the user what to do about it. Set it whenever the user can fix the problem. */
  nextSteps?: string;
  /** Extra lines shown under the message (for example a container's last log lines). */
  details?: string[];
  cause?: unknown;
}

export class GapipeError extends Error {
  readonly code: ErrorCode;
  readonly nextSteps: string | undefined;
  readonly details: string[];

  constructor(code: ErrorCode, message: string, options: GapipeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GapipeError';
    this.code = code;
    this.nextSteps = options.nextSteps;
    this.details = options.details ?? [];
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }

  get title(): string {
    return ERROR_CODES[this.code].title;
  }

  /** What `--json` prints for this error. */
  toJSON(): Record<string, unknown> {
    return {
      error: {
        code: this.code,
        title: this.title,
        message: this.message,
        nextSteps: this.nextSteps,
        details: this.details.length > 0 ? this.details : undefined,
        cause: describeCause(this.cause),
      },
    };
  }
}

/** Shorthand for the most common user-fixable error: a flag outside its allowed values. */
export function invalidFlag(message: string, nextSteps?: string): GapipeError {
  return new GapipeError('INVALID_FLAG', message, nextSteps === undefined ? {} : { nextSteps });
}

export function isGapipeError(error: unknown): error is GapipeError {
  return error instanceof GapipeError;
}

/** Short text for an underlying error, without a stack. */
export function describeCause(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${cause.message} (${code})` : cause.message;
  }
  return String(cause);
}

/** Turns anything thrown into a GapipeError; an error gapipe did not anticipate is a bug and says so. */
export function toGapipeError(error: unknown): GapipeError {
  if (isGapipeError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GapipeError('INTERNAL', message, {
    cause: error,
    nextSteps: 'This is a bug in gapipe. Re-run with GAPIPE_DEBUG=1 and report the output.',
  });
}
