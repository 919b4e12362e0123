/**
 * Worker-thread entry for the webhook service. The parent sends 'stop' (answered 'stopped'
 * when done); the worker says 'ready' once the outbox has caught up.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { startWebhookService } from './webhook-service.js';

const config = workerData.config as Config;
const writer = workerData.writer as MessagePort | undefined;
const log = pino({ level: config.log.level }).child({ thread: 'webhooks' });
const service = await startWebhookService(config, log, writer);
parentPort?.postMessage('ready');
parentPort?.on('message', async (message) => {
  if (message !== 'stop') return;
  await service.stop();
  parentPort?.postMessage('stopped');
  parentPort?.close();
});
