import { formatOrigin, type Origin } from '../provenance/origin.js';
import { formatSmtpReply, type SmtpReply } from '../smtp-reply/smtp-reply.js';
import type { BounceCategory } from './bounce-category.js';
import { type BounceClass, BUILT_IN_CLASSES, type Severity } from './bounce-classes.js';

/** One regex of a rule file, for one class, and where it was written. */
export interface BounceRule {
  readonly className: string;
  readonly pattern: RegExp;
  readonly origin: Origin;
}

/**
 * Rules in the order they are tried: every phrase rule, then every enhanced-code rule
 * (receivers often send a code that says less than their text); and the classes defined
 * beside the built-in ones.
 */
export interface BounceRules {
  readonly phrases: readonly BounceRule[];
  readonly codes: readonly BounceRule[];
  readonly classes: Readonly<Record<string, BounceClass>>;
}

export const EMPTY_BOUNCE_RULES: BounceRules = { phrases: [], codes: [], classes: {} };

/**
 * Rule files in the order they are consulted: an earlier file's rules are tried first in
 * each tier and its class definitions win (an operator's file goes before the built-in one).
 */
export const mergeBounceRules = (first: BounceRules, then: BounceRules): BounceRules => ({
  phrases: [...first.phrases, ...then.phrases],
  codes: [...first.codes, ...then.codes],
  classes: { ...then.classes, ...first.classes },
});

const classOf = (rules: BounceRules, name: string): BounceClass | undefined =>
  rules.classes[name] ?? (BUILT_IN_CLASSES as Record<string, BounceClass>)[name];

export interface Classification {
  /** KumoMTA's class name (or a rule file's own). */
  readonly class: string;
  /** PowerMTA's bounceCat, for the accounting log. */
  readonly category: BounceCategory;
  readonly severity: Severity;
  /** Which rule said so: `file:line /regex/`, or `default`. */
  readonly rule: string;
}

const UNCATEGORIZED = BUILT_IN_CLASSES.Uncategorized;

/**
 * Classifies a remote reply: the first rule whose regex matches `code enhanced-code text`
 * wins (KumoMTA's semantics); nothing matching is Uncategorized.
 */
export const classifyReply = (rules: BounceRules, reply: SmtpReply): Classification => {
  const text = formatSmtpReply(reply);
  const rule =
    rules.phrases.find((r) => r.pattern.test(text)) ??
    rules.codes.find((r) => r.pattern.test(text));
  if (rule) {
    const known = classOf(rules, rule.className) ?? UNCATEGORIZED;
    return {
      class: rule.className,
      category: known.bounceCat,
      severity: known.severity,
      rule: `${formatOrigin(rule.origin)} /${rule.pattern.source}/`,
    };
  }
  return {
    class: 'Uncategorized',
    category: UNCATEGORIZED.bounceCat,
    severity: UNCATEGORIZED.severity,
    rule: 'default',
  };
};

/** What a recipient that ran out of queue time bounces as. */
export const EXPIRED: Classification = {
  class: 'MessageExpired',
  category: BUILT_IN_CLASSES.MessageExpired.bounceCat,
  severity: BUILT_IN_CLASSES.MessageExpired.severity,
  rule: 'queue.maxAge',
};
