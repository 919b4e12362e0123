/**
 * Worker-thread entry for the delivery service, so delivery and projections use the
 * machine's second core while the main thread serves SMTP. Messages: the parent sends
 * 'stop' (answered 'stopped' when done) or `{ throttleWindows: id }` (answered with the
 * same id and the rows); the worker says 'ready' once caught up.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { startDeliveryService } from './delivery-service.js';

const config = workerData.config as Config;
const writer = workerData.writer as MessagePort | undefined;
const log = pino({ level: config.log.level }).child({ thread: 'delivery' });
const service = await startDeliveryService(config, log, writer);
parentPort?.postMessage('ready');
parentPort?.on('message', async (message) => {
  if (typeof message === 'object' && message && 'throttleWindows' in message) {
    parentPort?.postMessage({
      throttleWindows: message.throttleWindows,
      rows: service.throttleWindows(),
    });
    return;
  }
  if (message !== 'stop') return;
  await service.stop();
  parentPort?.postMessage('stopped');
  parentPort?.close();
});
