import { resolve } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';

/**
 * The delivery thread folds the credentials projection with every other one; the main
 * thread remembers which credential each API key it has checked belongs to. The delivery
 * thread says, once each batch that changed credentials or keys is committed, that the
 * main thread should forget, over a BroadcastChannel named after the read-model file.
 */
export const credentialsNewsChannel = (projectionsPath: string) =>
  new BroadcastChannel(`mailtrail-credentials:${resolve(projectionsPath)}`);
