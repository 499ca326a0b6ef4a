import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { PullProgress } from '../../src/lab/docker.js';
import type { LabUpResult } from '../../src/lab/lab.js';
import { createPlainLabReporter, renderLabDown, renderLabStatus, renderLabUp } from '../../src/ui/lab.js';
import { renderTable } from '../../src/ui/table.js';

/** A stream that keeps what is written to it. */
function recordingStream(): NodeJS.WritableStream & { text(): string; lines(): string[] } {
  const chunks: string[] = [];
  const stream = {
    write(chunk: string | Uint8Array) {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      return true;
    },
    text: () => stripVTControlCharacters(chunks.join('')),
    lines: () =>
      stripVTControlCharacters(chunks.join(''))
        .split('\n')
        .filter((l) => l.length > 0),
  };
  return stream as unknown as NodeJS.WritableStream & { text(): string; lines(): string[] };
}

describe('renderTable', () => {
  it('aligns columns to the widest cell, with a dashed rule under the header', () => {
    const text = renderTable(
      ['service', 'port'],
      [
        ['kafka', '9092'],
        ['elasticsearch', '9200'],
      ],
    );
    expect(text).toBe(
      ['service        port', '-------------  ----', 'kafka          9092', 'elasticsearch  9200'].join('\n'),
    );
  });

  it('does not pad the last column and trims trailing blanks', () => {
    const text = renderTable(
      ['a', 'detail'],
      [
        ['x', ''],
        ['y', 'a long detail'],
      ],
    );
    expect(text.split('\n')).toEqual(['a  detail', '-  -------------', 'x', 'y  a long detail']);
  });

  it('renders just the header for no rows', () => {
    expect(renderTable(['service', 'health'], [])).toBe('service  health\n-------  ------');
  });
});

const upResult: LabUpResult = {
  lab: 'lab',
  changed: true,
  services: [
    {
      service: 'kafka',
      status: 'created',
      container: 'abcdef123456',
      image: 'apache/kafka:4.4.0',
      endpoint: '127.0.0.1:9092',
      readyMs: 4200,
    },
    {
      service: 'kibana',
      status: 'unchanged',
      container: '0123456789ab',
      image: 'docker.elastic.co/kibana/kibana:8.19.21',
      endpoint: 'http://127.0.0.1:5601',
      readyMs: 0,
    },
  ],
  endpoints: { kafka: '127.0.0.1:9092', kibana: 'http://127.0.0.1:5601' },
  provisioning: {
    topics: [{ topic: 'game-events', partitions: 6, status: 'created' }],
    indexTemplates: [
      {
        template: 'gapipe-events',
        status: 'unchanged',
        index: 'gapipe-events-000001',
        indexStatus: 'created',
      },
    ],
    kibana: { status: 'imported', objects: [{ type: 'dashboard', id: 'gapipe-overview' }] },
  },
  warnings: [],
};

describe('renderLabUp', () => {
  it('shows the services table, what was provisioned and the dashboard link', () => {
    expect(renderLabUp(upResult)).toBe(
      [
        'service  endpoint               status     container     image',
        `-------  ---------------------  ---------  ------------  ${'-'.repeat(39)}`,
        'kafka    127.0.0.1:9092         created    abcdef123456  apache/kafka:4.4.0',
        'kibana   http://127.0.0.1:5601  unchanged  0123456789ab  docker.elastic.co/kibana/kibana:8.19.21',
        '',
        'topic game-events (6 partitions): created',
        'index template gapipe-events: unchanged; index gapipe-events-000001: created',
        'kibana saved objects (1): imported',
        '',
        "Lab 'lab' is up.",
        'Dashboard: http://127.0.0.1:5601/app/dashboards#/view/gapipe-overview',
        '',
      ].join('\n'),
    );
  });

  it('says nothing changed for an unchanged lab, and has no dashboard line without Kibana', () => {
    const text = renderLabUp({
      ...upResult,
      changed: false,
      services: [upResult.services[0] as LabUpResult['services'][number]],
      endpoints: { kafka: '127.0.0.1:9092' },
      provisioning: {},
    });
    expect(text).toContain("Lab 'lab' was already up and healthy; nothing changed.\n");
    expect(text).not.toContain('Dashboard');
    expect(text).not.toContain('topic ');
  });
});

describe('renderLabStatus', () => {
  it('tells how to start a lab that does not exist', () => {
    expect(renderLabStatus({ lab: 'ci', exists: false, healthy: false, services: [] })).toBe(
      "No lab named 'ci' (start one with `gapipe lab up`).\n",
    );
  });

  it('lists each service with health, state, endpoint and detail', () => {
    const text = renderLabStatus({
      lab: 'lab',
      exists: true,
      healthy: false,
      services: [
        { service: 'kafka', state: 'running', healthy: true, endpoint: '127.0.0.1:9092' },
        { service: 'elasticsearch', state: 'exited', healthy: false, detail: 'container is exited' },
      ],
    });
    expect(text).toBe(
      [
        'service        health     state    endpoint        detail',
        `-------------  ---------  -------  --------------  ${'-'.repeat(19)}`,
        'kafka          healthy    running  127.0.0.1:9092',
        'elasticsearch  unhealthy  exited                   container is exited',
        '',
      ].join('\n'),
    );
  });
});

describe('renderLabDown', () => {
  it('says there was nothing to remove', () => {
    expect(renderLabDown({ lab: 'ci', containers: [], networks: [], volumes: [], keptVolumes: [] })).toBe(
      "Nothing to remove: no lab named 'ci'.\n",
    );
  });

  it('lists what was removed and names the volumes that were kept', () => {
    expect(
      renderLabDown({
        lab: 'lab',
        containers: ['gapipe-lab-kafka'],
        networks: ['gapipe-lab'],
        volumes: [],
        keptVolumes: ['gapipe-lab-kafka-data'],
      }),
    ).toBe(
      'Removed container gapipe-lab-kafka, network gapipe-lab. Kept volume gapipe-lab-kafka-data (its data; `gapipe lab down --name lab --volumes` removes them too).\n',
    );
  });

  it('says nothing about volumes when the lab had none left', () => {
    expect(
      renderLabDown({
        lab: 'lab',
        containers: ['gapipe-lab-kafka'],
        networks: [],
        volumes: [],
        keptVolumes: [],
      }),
    ).toBe('Removed container gapipe-lab-kafka.\n');
  });

  it('names the data a second down without --volumes leaves', () => {
    expect(
      renderLabDown({
        lab: 'lab',
        containers: [],
        networks: [],
        volumes: [],
        keptVolumes: ['gapipe-lab-kafka-data'],
      }),
    ).toBe(
      "Lab 'lab' has no containers or network left. Kept volume gapipe-lab-kafka-data (its data; `gapipe lab down --name lab --volumes` removes them too).\n",
    );
  });

  it('does not mention kept volumes when they were removed', () => {
    expect(
      renderLabDown({
        lab: 'lab',
        containers: ['gapipe-lab-kafka'],
        networks: [],
        volumes: ['gapipe-lab-kafka-data'],
        keptVolumes: [],
      }),
    ).toBe('Removed container gapipe-lab-kafka, volume gapipe-lab-kafka-data.\n');
  });
});

describe('createPlainLabReporter', () => {
  const image = 'apache/kafka:4.4.0';
  const layer = (id: string, current: number, total: number): PullProgress => ({
    image,
    status: 'Downloading',
    layer: id,
    current,
    total,
  });

  it('writes steps and warnings as lines', () => {
    const stream = recordingStream();
    const reporter = createPlainLabReporter(stream, { now: () => 1_000_000 });
    reporter.step('creating network gapipe-lab');
    reporter.warn('ports are published on 0.0.0.0');
    expect(stream.lines()).toEqual([
      '• creating network gapipe-lab',
      'warning ports are published on 0.0.0.0',
    ]);
  });

  it('keeps quiet about steps and pulls but still shows warnings', () => {
    const stream = recordingStream();
    const reporter = createPlainLabReporter(stream, { quiet: true, now: () => 1_000_000 });
    reporter.step('creating network gapipe-lab');
    reporter.pull(layer('a', 1, 2));
    reporter.warn('careful');
    expect(stream.lines()).toEqual(['warning careful']);
  });

  it('summarises pull progress over all layers at most every three seconds per image', () => {
    let now = 1_000_000;
    const stream = recordingStream();
    const reporter = createPlainLabReporter(stream, { now: () => now });

    reporter.pull(layer('a', 512 * 1024, 1024 * 1024));
    reporter.pull(layer('b', 0, 3 * 1024 * 1024));
    now += 2_999;
    reporter.pull(layer('b', 1024 * 1024, 3 * 1024 * 1024));
    expect(stream.lines()).toEqual([`  pulling ${image}: 512.0 KiB / 1.0 MiB (1 layers)`]);

    now += 1;
    reporter.pull(layer('a', 1024 * 1024, 1024 * 1024));
    expect(stream.lines()).toEqual([
      `  pulling ${image}: 512.0 KiB / 1.0 MiB (1 layers)`,
      `  pulling ${image}: 2.0 MiB / 4.0 MiB (2 layers)`,
    ]);
  });

  it('throttles each image on its own', () => {
    const stream = recordingStream();
    const reporter = createPlainLabReporter(stream, { now: () => 1_000_000 });
    reporter.pull({ image: 'a:1', status: 'Pulling from library/a' });
    reporter.pull({ image: 'b:1', status: 'Pulling from library/b' });
    reporter.pull({ image: 'a:1', status: 'Waiting' });
    expect(stream.lines()).toEqual([
      '  pulling a:1: Pulling from library/a',
      '  pulling b:1: Pulling from library/b',
    ]);
  });

  // The injected clock may start anywhere (a ManualClock starts at 0); the first progress of an
  // image must show regardless, or a pull looks stuck for its first seconds.
  it('shows the first progress of an image whatever the clock reads', () => {
    const stream = recordingStream();
    const reporter = createPlainLabReporter(stream, { now: () => 0 });
    reporter.pull({ image, status: 'Pulling fs layer' });
    expect(stream.lines()).toEqual([`  pulling ${image}: Pulling fs layer`]);
  });
});
