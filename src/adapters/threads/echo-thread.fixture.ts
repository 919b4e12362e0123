// The request thread of request-thread.test.ts: answers a string with itself upper-cased,
// throws for 'throw' and dies (exit code 3) for 'die'.
import { serveRequests } from './serve-requests.js';

serveRequests((request: string) => {
  if (request === 'throw') throw new Error('asked to throw');
  if (request === 'die') process.exit(3);
  return request.toUpperCase();
});
