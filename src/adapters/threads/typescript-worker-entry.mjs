// Worker-thread entry that loads a TypeScript module: on Node 20 a worker does not
// inherit the tsx loader the main thread registered, and `--import tsx` in a worker's
// execArgv is not applied to its entry file. So the worker registers tsx itself first.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
