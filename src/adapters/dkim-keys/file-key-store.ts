import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../files/write-durably.js';

export interface DkimKeyStore {
  /** Stores a private key (PEM) durably, readable by this user only. */
  save(domain: string, selector: string, pem: string): void;
  /** The parsed key, parsed once per process; undefined if the file is not there. */
  load(domain: string, selector: string): KeyObject | undefined;
  remove(domain: string, selector: string): void;
}

/**
 * Private keys as files under `<dataDir>/keys/<domain>/<selector>.pem`, written durably
 * (0600, fsynced, renamed: whole or absent). The event log only ever holds the public half.
 */
export const createFileKeyStore = (dir: string): DkimKeyStore => {
  const parsed = new Map<string, KeyObject>();
  const pathOf = (domain: string, selector: string) => join(dir, domain, `${selector}.pem`);
  return {
    save: (domain, selector, pem) => writeFileDurably(pathOf(domain, selector), pem),
    load: (domain, selector) => {
      const key = `${domain}/${selector}`;
      const cached = parsed.get(key);
      if (cached) return cached;
      let pem: string;
      try {
        pem = readFileSync(pathOf(domain, selector), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      const privateKey = createPrivateKey(pem);
      parsed.set(key, privateKey);
      return privateKey;
    },
    remove: (domain, selector) => {
      parsed.delete(`${domain}/${selector}`);
      rmSync(pathOf(domain, selector), { force: true });
    },
  };
};
