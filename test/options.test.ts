import { describe, expect, it } from 'vitest';
import { GapipeError } from '../src/errors.js';
import { parseBrokers, parseDurationFlag, parseDurationMs, parseHttpUrl } from '../src/options.js';

function flagError(fn: () => unknown): GapipeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('INVALID_FLAG');
    return error as GapipeError;
  }
  throw new Error('expected an INVALID_FLAG error');
}

describe('parseBrokers', () => {
  it('takes names, IPv4 and bracketed IPv6 hosts, trimming spaces and empty entries', () => {
    expect(parseBrokers('127.0.0.1:9092')).toEqual(['127.0.0.1:9092']);
    expect(parseBrokers(' kafka-1:9092, kafka_2.local:19092 ,')).toEqual([
      'kafka-1:9092',
      'kafka_2.local:19092',
    ]);
    expect(parseBrokers('[::1]:9092')).toEqual(['[::1]:9092']);
  });

  it('rejects missing or out-of-range ports, spaces inside and empty lists, naming the flag', () => {
    for (const bad of ['kafka', 'kafka:0', 'kafka:99999', 'ka fka:9092', '::1:9092', '', ' , ']) {
      expect(flagError(() => parseBrokers(bad, '--brokers')).message).toContain(`--brokers must be`);
    }
    expect(flagError(() => parseBrokers('kafka:99999')).message).toContain("got 'kafka:99999'");
  });
});

describe('parseDurationMs and parseDurationFlag', () => {
  it('reads units and sums of them', () => {
    expect(parseDurationMs('10ms')).toBe(10);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    expect(parseDurationMs('10')).toBeUndefined();
    expect(parseDurationMs('')).toBeUndefined();
  });

  it('names the flag, the form and the minimum', () => {
    expect(parseDurationFlag('--wait', '2m')).toBe(120_000);
    expect(flagError(() => parseDurationFlag('--wait', '10')).message).toBe(
      "--wait must be a duration like 500ms or 10s, got '10'",
    );
    expect(flagError(() => parseDurationFlag('--flush-interval', '10ms', 100)).message).toBe(
      "--flush-interval must be a duration like 500ms or 10s, at least 100ms, got '10ms'",
    );
  });
});

describe('parseHttpUrl', () => {
  it('takes http and https URLs and drops trailing slashes', () => {
    expect(parseHttpUrl('http://127.0.0.1:9200/')).toBe('http://127.0.0.1:9200');
    expect(parseHttpUrl('https://es.example:443')).toBe('https://es.example:443');
  });

  it('rejects other schemes and non-URLs', () => {
    expect(flagError(() => parseHttpUrl('ftp://x')).message).toBe(
      "--es must be an http(s) URL like http://127.0.0.1:9200, got 'ftp://x'",
    );
    expect(flagError(() => parseHttpUrl('127.0.0.1:9200')).message).toContain('--es must be');
  });
});
