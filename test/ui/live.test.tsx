import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { Text } from 'ink';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { chooseReporter, startLiveView } from '../../src/ui/live.js';

function capture() {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return {
    stream: stream as unknown as NodeJS.WriteStream,
    text: () => stripVTControlCharacters(chunks.join('')),
  };
}

describe('chooseReporter', () => {
  const reporters = {
    plain: (stream: NodeJS.WriteStream, quiet: boolean) => ({ kind: 'plain', stream, quiet }),
    live: (stream: NodeJS.WriteStream) => ({ kind: 'live', stream, quiet: false }),
  };

  it('draws live only when output is neither plain nor quiet', () => {
    const { stream } = capture();
    expect(chooseReporter({ plain: false, quiet: false, stream }, reporters)).toEqual({
      kind: 'live',
      stream,
      quiet: false,
    });
    expect(chooseReporter({ plain: true, quiet: false, stream }, reporters)).toMatchObject({
      kind: 'plain',
      quiet: false,
    });
    // Quiet wins even on a terminal: the plain reporter prints nothing (or only warnings).
    expect(chooseReporter({ plain: false, quiet: true, stream }, reporters)).toMatchObject({
      kind: 'plain',
      quiet: true,
    });
  });

  it('writes progress to stderr unless told otherwise', () => {
    expect(chooseReporter({ plain: true, quiet: false }, reporters).stream).toBe(process.stderr);
  });
});

describe('startLiveView', () => {
  let t = 0;
  const now = () => t;
  beforeEach(() => {
    t = 0;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  });
  afterEach(() => vi.useRealTimers());

  /** A view of `state.text` that records every frame it is asked for. */
  function viewOf(state: { text: string | undefined }) {
    const frames: string[] = [];
    const view = () => {
      if (state.text === undefined) return undefined;
      frames.push(state.text);
      return <Text>{state.text}</Text>;
    };
    return { view, frames };
  }

  it('draws nothing before the first redraw, then the first frame at once', () => {
    const { stream } = capture();
    const state = { text: 'starting' };
    const { view, frames } = viewOf(state);
    const live = startLiveView(view, { stream, now });
    vi.advanceTimersByTime(1000);
    expect(frames).toEqual([]);
    live.redraw();
    expect(frames).toEqual(['starting']);
    live.stop();
  });

  it('folds redraws within the minimum interval into one later frame with the latest state', () => {
    const { stream } = capture();
    const state = { text: 'a' };
    const { view, frames } = viewOf(state);
    const live = startLiveView(view, { stream, now, minIntervalMs: 100 });
    live.redraw();
    for (const [at, text] of [
      [10, 'b'],
      [20, 'c'],
      [30, 'd'],
    ] as const) {
      t = at;
      state.text = text;
      live.redraw();
    }
    expect(frames).toEqual(['a']);
    // Scheduled at t=10 for the end of the interval, 90 ms later.
    t = 99;
    vi.advanceTimersByTime(89);
    expect(frames).toEqual(['a']);
    t = 100;
    vi.advanceTimersByTime(1);
    expect(frames).toEqual(['a', 'd']);
    // Old enough again: the next one is drawn at once.
    t = 250;
    state.text = 'e';
    live.redraw();
    expect(frames).toEqual(['a', 'd', 'e']);
    live.stop();
  });

  it('draws the latest state on stop, unmounts, and ignores redraws after', () => {
    const { stream, text } = capture();
    const state = { text: 'running' };
    const { view, frames } = viewOf(state);
    const live = startLiveView(view, { stream, now });
    live.redraw();
    t = 10;
    state.text = 'finished';
    live.redraw(); // within the interval: pending…
    live.stop(); // …and drawn by stop itself
    expect(frames).toEqual(['running', 'finished']);
    expect(text().trimEnd().split('\n').at(-1)).toBe('finished');
    live.redraw();
    live.stop();
    vi.advanceTimersByTime(1000);
    expect(frames).toEqual(['running', 'finished']);
  });

  it('draws nothing at all while the view has nothing to show', () => {
    const { stream, text } = capture();
    const { view, frames } = viewOf({ text: undefined });
    const live = startLiveView(view, { stream, now });
    live.redraw();
    live.stop();
    expect(frames).toEqual([]);
    expect(text()).toBe('');
  });

  it('redraws every tickMs without news, until stopped', () => {
    const { stream } = capture();
    const { view, frames } = viewOf({ text: 'phase' });
    const live = startLiveView(view, { stream, now, tickMs: 1000 });
    live.redraw();
    for (let s = 1; s <= 3; s++) {
      t = s * 1000;
      vi.advanceTimersByTime(1000);
    }
    expect(frames).toHaveLength(4);
    live.stop();
    expect(frames).toHaveLength(5);
    t = 10_000;
    vi.advanceTimersByTime(5000);
    expect(frames).toHaveLength(5);
  });
});
