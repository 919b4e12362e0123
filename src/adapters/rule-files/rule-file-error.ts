/** One problem in a rule file (shaping, bounces), at the line of the key or value at fault. */
export interface RuleFileError {
  readonly file: string;
  readonly line: number;
  /** The key path, e.g. `domains.shop.test.messageRate`; '' for the file as a whole. */
  readonly path: string;
  readonly message: string;
}

/** `file:line: path: message`, as compilers print it (editors jump to it). */
export const formatRuleFileError = (e: RuleFileError): string =>
  `${e.file}:${e.line}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
