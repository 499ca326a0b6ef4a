import { describe, expect, it } from 'vitest';
import { endpointsFromLab } from '../../src/cli/lab-endpoints.js';
import { GapipeError } from '../../src/errors.js';

const lab = { kafka: '127.0.0.1:19092', elasticsearch: 'http://127.0.0.1:19200' };
const lookup = async (name: string) => {
  if (name !== 'other-ports') throw new GapipeError('LAB_NOT_FOUND', `There is no lab named '${name}'`);
  return lab;
};

describe('endpointsFromLab', () => {
  it("takes the lab's Kafka and Elasticsearch endpoints", async () => {
    expect(await endpointsFromLab('other-ports', {}, ['kafka', 'elasticsearch'], lookup)).toEqual({
      brokers: '127.0.0.1:19092',
      es: 'http://127.0.0.1:19200',
    });
  });

  it('lets explicit flags win, and looks up nothing without --lab or when nothing is needed', async () => {
    expect(
      await endpointsFromLab('other-ports', { brokers: 'kafka:9092' }, ['kafka', 'elasticsearch'], lookup),
    ).toEqual({ brokers: 'kafka:9092', es: 'http://127.0.0.1:19200' });
    const never = async () => {
      throw new Error('looked up');
    };
    expect(await endpointsFromLab(undefined, { es: 'http://x:9200' }, ['elasticsearch'], never)).toEqual({
      es: 'http://x:9200',
    });
    expect(await endpointsFromLab('other-ports', {}, [], never)).toEqual({});
  });

  it('names a missing lab, and a lab without the service the command needs', async () => {
    await expect(endpointsFromLab('absent', {}, ['kafka'], lookup)).rejects.toMatchObject({
      code: 'LAB_NOT_FOUND',
    });
    const kafkaOnly = async () => ({ kafka: '127.0.0.1:9092' });
    await expect(endpointsFromLab('k', {}, ['elasticsearch'], kafkaOnly)).rejects.toMatchObject({
      code: 'LAB_NOT_FOUND',
      message: "Lab 'k' has no elasticsearch",
    });
  });
});

describe('lab commands take --lab like every other command', () => {
  it('parses --lab as the lab name', async () => {
    const { Parser } = await import('@oclif/core');
    const { labNameFlag } = await import('../../src/cli/lab-flags.js');
    const parsed = await Parser.parse(['--lab', 'demo'], { flags: labNameFlag });
    expect(parsed.flags.name).toBe('demo');
  });
});
