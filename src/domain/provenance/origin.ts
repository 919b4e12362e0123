/** Where a rule or value was written: a file and the line of its key. */
export interface Origin {
  readonly file: string;
  readonly line: number;
}

export const formatOrigin = (origin: Origin): string => `${origin.file}:${origin.line}`;
