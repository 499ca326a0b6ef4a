import { dirname } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { type Clock, systemClock } from '../../clock.js';
import {
  type CommandRunner,
  defaultSparkCacheDir,
  javaMajor,
  runCommand,
  SPARK_JAVA_VERSIONS,
  setupSpark,
} from '../../engines/spark/setup.js';
import { GapipeError } from '../../errors.js';

const ENGINES = ['spark'] as const;

/** What `gapipe engine setup` prepared (the `--json` output). */
export interface EngineSetupResult {
  engine: (typeof ENGINES)[number];
  /** True when everything was in the cache already: nothing was downloaded, built or resolved. */
  alreadyPrepared: boolean;
  sparkVersion: string;
  javaVersion: string;
  /** The engine's cache folder: the Python environment, the connector jars and their records. */
  cacheDir: string;
  venvDir: string;
  sparkHome: string;
  /** The Kafka connector and its dependencies, as every later spark-submit gets them (--jars). */
  jars: string[];
  seconds: number;
}

export default class EngineSetup extends BaseCommand {
  static override summary = 'Prepare a stream-processing engine ahead of its first use (Spark)';
  static override description =
    `For spark: checks Java (8, 11 or 17) and Python (3.8 or newer, with venv), creates a Python environment with the pinned PySpark and Elasticsearch client, and downloads the Kafka connector jars from Maven Central, all cached in ~/.cache/gapipe/spark/<version> (about a minute and a half and 500 MB the first time; seconds afterwards). Without it, gapipe does the same on the engine's first use. Running it again on a prepared cache changes nothing.

Needs network access to PyPI and Maven Central the first time: PIP_INDEX_URL names a PyPI mirror, GAPIPE_MAVEN_REPOSITORIES a Maven one, GAPIPE_PYTHON another Python, JAVA_HOME another Java.`;

  static override examples = [
    {
      description: 'Prepare Spark, e.g. while building a CI image',
      command: '<%= config.bin %> engine setup spark',
    },
    {
      description: 'Into another cache folder (also GAPIPE_CACHE_DIR), printing the result as JSON',
      command: '<%= config.bin %> engine setup spark --cache-dir /opt/gapipe-cache --json',
    },
  ];

  static override args = {
    engine: Args.string({ description: `The engine to prepare: ${ENGINES.join(', ')}`, required: true }),
  };

  static override flags = {
    'cache-dir': Flags.string({
      description:
        "gapipe's cache folder; the engine goes in a folder of its own below it [default: ~/.cache/gapipe, or $XDG_CACHE_HOME/gapipe]",
      env: 'GAPIPE_CACHE_DIR',
    }),
  };

  /** Runs the set-up's commands (java, python, pip, spark-submit); tests put a fake machine here. */
  protected runner: CommandRunner = runCommand;
  protected clock: Clock = systemClock;

  async run(): Promise<EngineSetupResult> {
    const { args, flags } = await this.parse(EngineSetup);
    const engine = args.engine.toLowerCase();
    if (!(ENGINES as readonly string[]).includes(engine)) {
      throw new GapipeError('INVALID_ARGUMENT', `Unknown engine '${args.engine}'`, {
        nextSteps: `Choose one of ${ENGINES.join(', ')}, e.g. \`gapipe engine setup spark\``,
      });
    }
    const cacheDir = defaultSparkCacheDir(
      flags['cache-dir'] ? { ...process.env, GAPIPE_CACHE_DIR: flags['cache-dir'] } : process.env,
    );
    // A warm cache runs nothing but the Java check; anything else ran means something was prepared.
    const ran: string[] = [];
    const runner: CommandRunner = (command, commandArgs, options) => {
      ran.push(command);
      return this.runner(command, commandArgs, options);
    };
    const started = this.clock.now();
    const runtime = await setupSpark({
      cacheDir,
      runner,
      clock: this.clock,
      reporter: { step: (line) => this.logger.info(`• ${line}`) },
    });
    const result: EngineSetupResult = {
      engine: 'spark',
      alreadyPrepared: ran.every((command) => /(^|\/)java$/.test(command)),
      sparkVersion: runtime.version,
      javaVersion: runtime.javaVersion,
      cacheDir: runtime.cacheDir,
      venvDir: runtime.venvDir,
      sparkHome: runtime.sparkHome,
      jars: runtime.jars,
      seconds: Math.round((this.clock.now() - started) / 100) / 10,
    };
    if (!this.jsonEnabled()) process.stdout.write(renderEngineSetup(result));
    return result;
  }
}

function renderEngineSetup(result: EngineSetupResult): string {
  const jarsDir = result.jars[0] === undefined ? '' : dirname(result.jars[0]);
  const lines = [
    result.alreadyPrepared
      ? `Spark ${result.sparkVersion} was already prepared; nothing to do (${result.seconds}s).`
      : `Spark ${result.sparkVersion} is prepared (${result.seconds}s).`,
    `  java         ${result.javaVersion}${javaNote(result.javaVersion)}`,
    `  python env   ${result.venvDir}`,
    `  spark home   ${result.sparkHome}`,
    `  jars         ${result.jars.length} (the Kafka connector and its dependencies) in ${jarsDir}`,
    `  cache        ${result.cacheDir}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Setup tries an untested Java anyway and says so in its progress; --quiet would hide that. */
function javaNote(version: string): string {
  return SPARK_JAVA_VERSIONS.includes(javaMajor(version))
    ? ''
    : ` (not one Spark is tested on: ${SPARK_JAVA_VERSIONS.join(', ')})`;
}
