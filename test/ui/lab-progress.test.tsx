import { stripVTControlCharacters } from 'node:util';
import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLabReporter, LabProgress, type LabProgressState } from '../../src/ui/lab-progress.js';

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function frame(state: LabProgressState, done: boolean): string {
  const { lastFrame } = render(<LabProgress state={state} done={done} />);
  return stripVTControlCharacters(lastFrame() ?? '');
}

const steps = (...texts: string[]) => texts.map((text, id) => ({ id, text }));

describe('LabProgress', () => {
  it('ticks finished steps and marks the one in progress', () => {
    const text = frame(
      {
        steps: steps('creating network gapipe-lab', 'kafka: starting apache/kafka:4.4.0'),
        warnings: [],
        pulls: [],
      },
      false,
    );
    expect(text.split('\n')).toEqual([
      '✓ creating network gapipe-lab',
      '› kafka: starting apache/kafka:4.4.0',
    ]);
  });

  it('ticks every step when done', () => {
    const text = frame({ steps: steps('one', 'two'), warnings: [], pulls: [] }, true);
    expect(text.split('\n')).toEqual(['✓ one', '✓ two']);
  });

  it('draws a bar with the percentage for a pull of known size', () => {
    const text = frame(
      {
        steps: steps('kafka: pulling apache/kafka:4.4.0'),
        warnings: [],
        pulls: [{ image: 'apache/kafka:4.4.0', current: 25, total: 100, status: 'Downloading' }],
      },
      false,
    );
    expect(text.split('\n')[1]).toBe(`  apache/kafka:4.4.0 ${'█'.repeat(6)}${'░'.repeat(18)} 25%`);
  });

  it('shows the pull status while the size is unknown, and a full bar at 100%', () => {
    const text = frame(
      {
        steps: [],
        warnings: [],
        pulls: [
          { image: 'a:1', current: 0, total: 0, status: 'Pulling fs layer' },
          { image: 'b:1', current: 300, total: 300, status: 'Download complete' },
        ],
      },
      false,
    );
    expect(text.split('\n')).toEqual([
      `  a:1 ${'░'.repeat(24)} Pulling fs layer`,
      `  b:1 ${'█'.repeat(24)} 100%`,
    ]);
  });

  it('lists warnings after the steps', () => {
    const text = frame(
      {
        steps: steps('creating network gapipe-lab'),
        warnings: ['ports are published on 0.0.0.0'],
        pulls: [],
      },
      true,
    );
    expect(text.split('\n')).toEqual([
      '✓ creating network gapipe-lab',
      'warning ports are published on 0.0.0.0',
    ]);
  });

  it('redraws as the state grows', () => {
    const state: LabProgressState = { steps: steps('one'), warnings: [], pulls: [] };
    const { lastFrame, rerender } = render(<LabProgress state={state} done={false} />);
    expect(stripVTControlCharacters(lastFrame() ?? '')).toBe('› one');
    rerender(<LabProgress state={{ ...state, steps: steps('one', 'two') }} done={false} />);
    expect(stripVTControlCharacters(lastFrame() ?? '')).toBe('✓ one\n› two');
  });
});

describe('createLabReporter', () => {
  function captureStderr(): () => string {
    const chunks: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      return true;
    });
    return () => stripVTControlCharacters(chunks.join(''));
  }

  it('writes plain lines to stderr when asked for plain output', () => {
    const output = captureStderr();
    const reporter = createLabReporter({ plain: true, quiet: false });
    reporter.step('creating network gapipe-lab');
    reporter.warn('careful');
    reporter.done();
    expect(output()).toBe('• creating network gapipe-lab\nwarning careful\n');
  });

  it('prints only warnings when quiet, even where it could draw', () => {
    const output = captureStderr();
    const reporter = createLabReporter({ plain: false, quiet: true });
    reporter.step('creating network gapipe-lab');
    reporter.pull({ image: 'a:1', status: 'Downloading', layer: 'l1', current: 1, total: 2 });
    reporter.warn('careful');
    reporter.done();
    expect(output()).toBe('warning careful\n');
  });

  // Under CI=true ink writes nothing until unmount and then the last frame once; in a terminal it
  // redraws in place (earlier frames, erased, may come first). Either way the output ends with the
  // final state, every step ticked, drawn once.
  it('ends with the final state drawn by ink, every step ticked, when done', () => {
    const output = captureStderr();
    const reporter = createLabReporter({ plain: false, quiet: false });
    reporter.step('creating network gapipe-lab');
    reporter.pull({ image: 'apache/kafka:4.4.0', status: 'Downloading', layer: 'l1', current: 1, total: 4 });
    reporter.pull({ image: 'apache/kafka:4.4.0', status: 'Downloading', layer: 'l2', current: 1, total: 4 });
    reporter.step('kafka: starting apache/kafka:4.4.0');
    reporter.warn('careful');
    reporter.done();
    reporter.done();
    const finalFrame = [
      '✓ creating network gapipe-lab',
      '✓ kafka: starting apache/kafka:4.4.0',
      `  apache/kafka:4.4.0 ${'█'.repeat(6)}${'░'.repeat(18)} 25%`,
      'warning careful',
      '',
    ].join('\n');
    const text = output();
    expect(text.slice(-finalFrame.length)).toBe(finalFrame);
    expect(text.split('✓ kafka: starting').length).toBe(2);
  });
});
