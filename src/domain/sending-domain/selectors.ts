import type { DkimAlgorithm } from './events.js';

const ALGORITHM_TAG: Record<DkimAlgorithm, string> = {
  'rsa-sha256': 'rsa',
  'ed25519-sha256': 'ed',
};

/**
 * Dated selectors, `mt20261127-rsa` and `mt20261127-ed`, so an operator reading DNS can
 * tell when a key was made; a second rotation on one day gets `mt20261127b-…`, and so on.
 */
export const datedSelector = (
  algorithm: DkimAlgorithm,
  at: number,
  taken: ReadonlySet<string>,
): string => {
  const day = new Date(at).toISOString().slice(0, 10).replaceAll('-', '');
  for (let n = 0; ; n++) {
    // b … z for the 2nd to 26th key of a day; after that, plain numbers.
    const suffix = n === 0 ? '' : n < 26 ? String.fromCharCode(97 + n) : String(n);
    const selector = `mt${day}${suffix}-${ALGORITHM_TAG[algorithm]}`;
    if (!taken.has(selector)) return selector;
  }
};
