// Worker-thread entry that loads a TypeScript module: on Node 20 a worker does not
// inherit the tsx loader the main thread registered, and `--import tsx` in a worker's
// execArgv is not applied to its entry file. So the worker registers tsx itself first.
import { writeFileSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

// Every Node thread is called "node" to the kernel. Named, the relay's threads can be told
// apart in `top -H`, `ps -L` and /proc/<pid>/task/*/stat (the benches' CPU per thread).
// Linux only (15 bytes at most); elsewhere the thread keeps its name.
if (workerData.threadName) {
  try {
    writeFileSync('/proc/thread-self/comm', String(workerData.threadName).slice(0, 15));
  } catch {}
}
register();
await import(workerData.entry);
