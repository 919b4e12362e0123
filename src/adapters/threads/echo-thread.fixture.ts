// The request thread of the threads tests: answers a string with itself upper-cased, throws
// for 'throw', dies (exit code 3) for 'die', and for `{ hold }` waits until the test sets
// hold[0] (a SharedArrayBuffer) to 1.
import { serveRequests } from './serve-requests.js';

export type EchoRequest = string | { readonly hold: Int32Array };

serveRequests((request: EchoRequest) => {
  if (typeof request !== 'string') {
    Atomics.wait(request.hold, 0, 0);
    return 'RELEASED';
  }
  if (request === 'throw') throw new Error('asked to throw');
  if (request === 'die') process.exit(3);
  return request.toUpperCase();
});
