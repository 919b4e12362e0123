import type { RequestThread } from './request-thread.js';

/**
 * One request thread made of several: each request goes to the thread with the fewest
 * requests still unanswered, so while one is held up by a large request (a 10 MB body to
 * hash) the others take the new ones.
 */
export const spreadRequests = <Request, Result>(
  threads: readonly RequestThread<Request, Result>[],
): RequestThread<Request, Result> => {
  const slots = threads.map((thread) => ({ thread, unanswered: 0 }));
  const first = slots[0];
  if (!first) throw new Error('spreadRequests needs at least one thread');
  return {
    request: async (request) => {
      const slot = slots.reduce((least, s) => (s.unanswered < least.unanswered ? s : least), first);
      slot.unanswered++;
      try {
        return await slot.thread.request(request);
      } finally {
        slot.unanswered--;
      }
    },
    close: async () => {
      await Promise.all(threads.map((t) => t.close()));
    },
  };
};
