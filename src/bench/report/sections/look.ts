/** How the bench's series look in every plot and legend: one colour and dash per series. */
import type { LatencyKind } from '../../types.js';

export const KIND_COLOURS: Record<LatencyKind, string> = {
  'produce-ack': '#4e79a7',
  delivery: '#f28e2b',
  sink: '#59a14f',
  visible: '#b07aa1',
};

/** Dash patterns: a dashed line is drawn over the solid ones, so a kind hidden under another shows. */
export const KIND_DASHES: Record<LatencyKind, string | undefined> = {
  'produce-ack': '9 5',
  delivery: undefined,
  sink: undefined,
  visible: '9 5',
};
export const DRAW_ORDER: Record<LatencyKind, number> = { delivery: 0, sink: 1, visible: 2, 'produce-ack': 3 };

export const THROUGHPUT_SERIES = ['produced', 'acknowledged', 'consumed', 'written'] as const;
export type ThroughputSeries = (typeof THROUGHPUT_SERIES)[number];
/** The series counted in records (events), on the throughput plot; documents have their own. */
export const RECORD_SERIES = ['produced', 'acknowledged', 'consumed'] as const;

export const THROUGHPUT_COLOURS: Record<ThroughputSeries, string> = {
  produced: '#4e79a7',
  acknowledged: '#76b7b2',
  consumed: '#f28e2b',
  written: '#59a14f',
};

export const THROUGHPUT_DASHES: Record<ThroughputSeries, string | undefined> = {
  produced: undefined,
  acknowledged: '9 5',
  consumed: undefined,
  written: undefined,
};

export const LAG_COLOUR = '#b07aa1';

export const INSTRUMENT_COLOURS = { busy: '#e15759', cpu: '#4e79a7', consumers: '#59a14f' };
