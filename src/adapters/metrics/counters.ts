/**
 * Monotonic counters with labels, rendered in the Prometheus text format (GET /metrics).
 * A handful of counters bumped on refusals, not a hot path: a Map is all it takes.
 */
export interface Counters {
  inc(name: string, labels?: Readonly<Record<string, string>>, by?: number): void;
  /** The current value (0 when never counted). */
  get(name: string, labels?: Readonly<Record<string, string>>): number;
  render(): string;
}

const labelText = (labels: Readonly<Record<string, string>>): string => {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`);
  return pairs.length > 0 ? `{${pairs.join(',')}}` : '';
};

export const createCounters = (help: Readonly<Record<string, string>> = {}): Counters => {
  const values = new Map<string, Map<string, number>>();
  return {
    inc: (name, labels = {}, by = 1) => {
      const series = values.get(name) ?? new Map<string, number>();
      const key = labelText(labels);
      series.set(key, (series.get(key) ?? 0) + by);
      values.set(name, series);
    },
    get: (name, labels = {}) => values.get(name)?.get(labelText(labels)) ?? 0,
    render: () =>
      [...values]
        .flatMap(([name, series]) => [
          ...(help[name] ? [`# HELP ${name} ${help[name]}`] : []),
          `# TYPE ${name} counter`,
          ...[...series].map(([labels, value]) => `${name}${labels} ${value}`),
        ])
        .join('\n')
        .concat('\n'),
  };
};
