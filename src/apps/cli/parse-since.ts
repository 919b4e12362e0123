import { parseDuration } from '../../domain/duration/duration.js';
import { fail } from './cli-context.js';

/** `--since`: an ISO time, or a duration meaning that long ago. */
export const parseSince = (text: string, now = Date.now()): number => {
  const ago = parseDuration(text);
  if (ago !== undefined) return now - ago;
  const at = Date.parse(text);
  if (Number.isNaN(at))
    return fail(`--since: "${text}" is neither an ISO time nor a duration (1h, 2d)`);
  return at;
};
