export interface RecentBlobs {
  add(key: string, bytes: Uint8Array): void;
  get(key: string): Buffer | undefined;
}

/**
 * The newest blobs a writer thread committed, up to `maxBytes` in all; the oldest go first.
 * Blobs are written once under their key, so an entry never goes stale.
 */
export const createRecentBlobs = (maxBytes: number): RecentBlobs => {
  const entries = new Map<string, Buffer>();
  let bytes = 0;
  return {
    add: (key, value) => {
      const buffer = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      const previous = entries.get(key);
      if (previous) {
        entries.delete(key);
        bytes -= previous.length;
      }
      if (buffer.length > maxBytes) return;
      entries.set(key, buffer);
      bytes += buffer.length;
      for (const [oldest, old] of entries) {
        if (bytes <= maxBytes) break;
        entries.delete(oldest);
        bytes -= old.length;
      }
    },
    get: (key) => entries.get(key),
  };
};
