/**
 * The Spark engine's software in a run's provenance: what `sparkSoftware` reads from the runtime and
 * the template's pinned requirements, and where the summary and the report show it.
 */
import { readFileSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../src/bench/report/index.js';
import { SPARK_REQUIREMENTS_FILE, type SparkRuntime, sparkSoftware } from '../../src/engines/spark/setup.js';
import { renderBenchSummary } from '../../src/ui/bench.js';
import { sampleBenchResult } from './fixtures.js';
import { asOutsideEngine } from './helpers/engine-results.js';

const runtime = {
  version: '3.5.7',
  javaVersion: '17.0.13',
} as SparkRuntime;

describe('sparkSoftware', () => {
  const software = sparkSoftware(runtime);

  it('names Spark, its Kafka connector and the Java that ran it', () => {
    expect(software.Spark).toBe('3.5.7');
    expect(software['Kafka connector']).toBe('org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.7');
    expect(software.Java).toBe('17.0.13');
  });

  it('lists every package pinned in the template’s requirements.txt, at its pinned version', () => {
    const pinned = readFileSync(SPARK_REQUIREMENTS_FILE, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Za-z]/.test(line))
      .map((line) => line.split('=='));
    expect(pinned.length).toBeGreaterThan(1);
    for (const [name, version] of pinned) expect(software[name as string]).toBe(version);
    expect(software.pyspark).toBe(software.Spark);
  });
});

describe('the engine’s software in the results', () => {
  const result = asOutsideEngine(sampleBenchResult(), 'spark');
  const software = { Spark: '3.5.7', elasticsearch: '8.19.3', Java: '17.0.13' };
  const engine = result.summary.engine;
  if (engine) engine.software = software;

  it('is a line of the summary’s Engine section', () => {
    const lines = stripVTControlCharacters(renderBenchSummary(result)).split('\n');
    const engine = lines.indexOf('Engine: spark (the Spark job on local[2])');
    expect(engine).toBeGreaterThan(0);
    expect(lines.slice(engine)).toContain('  software: Spark 3.5.7, elasticsearch 8.19.3, Java 17.0.13');
  });

  it('is a row of the report’s provenance, and absent for an engine without it', () => {
    expect(renderReport(result)).toContain(
      '<tr><th>Engine (spark)</th><td>Spark 3.5.7, elasticsearch 8.19.3, Java 17.0.13</td></tr>',
    );
    expect(renderReport(asOutsideEngine(sampleBenchResult(), 'external'))).not.toContain('<th>Engine (');
  });
});
