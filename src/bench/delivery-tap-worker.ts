/**
 * The delivery tap's thread (started by delivery-tap-thread.ts): runs the tap and its own latency taps
 * off the bench's main thread, where the load generator runs, so that reading and timing each record
 * costs the generator nothing. Delivery times are read with Date.now, the clock the bench's intended
 * send times come from. Answers the main thread's per-tick `take` with the interval recorded since the
 * last one; reports readiness, failures and log lines as messages.
 *
 * Importing this module outside a worker thread does nothing.
 */
import { isMainThread, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { serializeError } from '../simulators/worker-protocol.js';
import { DeliveryTap, type DeliveryTapOptions } from './delivery-tap.js';
import {
  TAP_THREAD_KIND,
  type TapControlMessage,
  type TapThreadInit,
  type TapThreadMessage,
} from './delivery-tap-protocol.js';
import { LatencyTaps } from './taps.js';

if (!isMainThread && parentPort && (workerData as TapThreadInit | undefined)?.kind === TAP_THREAD_KIND) {
  runTapThread(parentPort, workerData as TapThreadInit);
}

/**
 * The thread's work, on `port`. Tests run it in their own thread over a MessageChannel, with a fake
 * consumer underneath.
 */
export function runTapThread(
  port: MessagePort,
  init: TapThreadInit,
  deps: Pick<DeliveryTapOptions, 'createConsumer'> = {},
): void {
  const post = (message: TapThreadMessage) => port.postMessage(message);
  const taps = new LatencyTaps(['delivery']);
  if (init.measureFromMs !== undefined) taps.measureFromMs = init.measureFromMs;
  const tap = new DeliveryTap(
    {
      brokers: init.brokers,
      topic: init.topic,
      group: init.group,
      ...(init.log ? { logger: forwardingLogger(post) } : {}),
      ...(init.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: init.readyTimeoutMs }),
      ...(init.tuning ? { tuning: init.tuning } : {}),
      ...deps,
      onError: (error) => post({ type: 'failed', error: serializeError(error) }),
    },
    (intended, count, nowMs) => taps.recordMany('delivery', intended, count, nowMs),
  );
  port.on('message', (message: TapControlMessage) => {
    if (message.type === 'measure-from') taps.measureFromMs = message.atMs;
    else if (message.type === 'take')
      post({ type: 'taken', id: message.id, intervals: taps.takeIntervals(), reading: tap.read() });
    else void tap.stop().then(() => post({ type: 'stopped' }));
  });
  tap.start().then(
    () => post({ type: 'ready' }),
    (error: unknown) => post({ type: 'start-failed', error: serializeError(error) }),
  );
}

function forwardingLogger(post: (message: TapThreadMessage) => void): Logger {
  return {
    info: (message) => post({ type: 'log', level: 'info', message }),
    warn: (message) => post({ type: 'log', level: 'warn', message }),
    debug: (message) => post({ type: 'log', level: 'debug', message }),
  };
}
