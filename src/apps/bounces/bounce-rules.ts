import { fileURLToPath } from 'node:url';
import { loadBounceRulesFile } from '../../adapters/bounce-rules-file/load-bounce-rules.js';
import {
  formatRuleFileError,
  type RuleFileError,
} from '../../adapters/rule-files/rule-file-error.js';
import {
  type BounceRules,
  EMPTY_BOUNCE_RULES,
  mergeBounceRules,
} from '../../domain/bounce/classifier.js';

export const DEFAULT_BOUNCE_RULES_FILE = fileURLToPath(
  new URL('./default-bounces.yaml', import.meta.url),
);

const BUILT_IN_NAME = 'built-in:default-bounces.yaml';

export class BounceRulesError extends Error {
  readonly code = 'BounceRulesInvalid';
  constructor(readonly errors: readonly RuleFileError[]) {
    super(`invalid bounce rules:\n${errors.map((e) => `  ${formatRuleFileError(e)}`).join('\n')}`);
  }
}

/**
 * The operator's files in order, then the built-in one: the first rule that matches wins,
 * so an operator's rule overrides a built-in one (as in KumoMTA).
 */
export const readBounceRules = (
  files: readonly string[],
): { readonly rules: BounceRules; readonly errors: readonly RuleFileError[] } => {
  let rules = EMPTY_BOUNCE_RULES;
  const errors: RuleFileError[] = [];
  for (const file of [...files, DEFAULT_BOUNCE_RULES_FILE]) {
    // The built-in file is named as such on every bounce it decides, not by its path.
    const loaded = loadBounceRulesFile(
      file,
      file === DEFAULT_BOUNCE_RULES_FILE ? BUILT_IN_NAME : file,
    );
    if (loaded.ok) rules = mergeBounceRules(rules, loaded.rules);
    else errors.push(...loaded.errors);
  }
  return { rules, errors };
};

/** The rules the relay classifies with; throws with every error if a file is wrong. */
export const loadBounceRules = (files: readonly string[]): BounceRules => {
  const { rules, errors } = readBounceRules(files);
  if (errors.length > 0) throw new BounceRulesError(errors);
  return rules;
};
