import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from './write-durably.js';

/**
 * The key that signs VERP return paths: `<keys>/verp.key`, 32 random bytes in hex, made on
 * first start. Losing it only means bounces to older return paths are refused as forged.
 */
export const loadOrCreateVerpKey = (keysDir: string): Buffer => {
  const path = join(keysDir, 'verp.key');
  try {
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  writeFileDurably(path, `${key.toString('hex')}\n`);
  return key;
};
