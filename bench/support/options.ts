import { parseArgs } from 'node:util';

/** The options every bench takes: how much load, which sizes, how many runs. */
export interface BenchOptions {
  messages: number;
  warmup: number;
  sizes: number[];
  sessions: number;
  runs: number;
  json: boolean;
}

export const parseSize = (s: string): number => {
  const m = /^(\d+)(k|K)?$/.exec(s.trim());
  if (!m) throw new Error(`--sizes: "${s}" is not a size like 2k or 2048`);
  return Number(m[1]) * (m[2] ? 1024 : 1);
};

export const parseBenchOptions = (argv: string[], usage: string): BenchOptions => {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '8000' },
      sizes: { type: 'string', default: '2k,100k' },
      sessions: { type: 'string', default: '20' },
      runs: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const count = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`--${name}: expected a whole number, got ${text}`);
    return n;
  };
  return {
    messages: count('messages', values.messages),
    warmup: count('warmup', values.warmup),
    sizes: values.sizes.split(',').map(parseSize),
    sessions: count('sessions', values.sessions),
    runs: count('runs', values.runs),
    json: values.json,
  };
};
