import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { z } from 'zod';
import { BOUNCE_CATEGORIES } from '../../domain/bounce/bounce-category.js';
import type { BounceClass } from '../../domain/bounce/bounce-classes.js';
import { BUILT_IN_CLASSES } from '../../domain/bounce/bounce-classes.js';
import type { BounceRule, BounceRules } from '../../domain/bounce/classifier.js';
import type { RuleFileError } from '../rule-files/rule-file-error.js';

export type LoadedBounceRules =
  | { readonly ok: true; readonly rules: BounceRules }
  | { readonly ok: false; readonly errors: readonly RuleFileError[] };

const ClassSchema = z
  .object({
    bounceCat: z.enum(BOUNCE_CATEGORIES),
    severity: z.enum(['permanent', 'transient', 'policy']),
  })
  .strict();

const CLASS_NAME = /^[A-Z][A-Za-z0-9]*$/;

/**
 * Parses a bounce rule file:
 *
 *   classes:            # optional: your own classes
 *     Blocklisted: { bounceCat: spam-related, severity: policy }
 *   rules:              # class → regexes on "code enhanced-code text", tried in order
 *     InvalidRecipient:
 *       - 'user unknown'
 *   codes:              # the same, tried after every file's rules: for enhanced codes
 *     InvalidRecipient:
 *       - '^\d{3} [45]\.1\.1(?!\d)'
 *
 * Every error carries its file and line.
 */
export const parseBounceRules = (text: string, file: string): LoadedBounceRules => {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (node: Node | null | undefined): number =>
    node?.range ? lineCounter.linePos(node.range[0]).line : 1;
  const errors: RuleFileError[] = [];
  const fail = (path: string, message: string, node?: Node | null) =>
    errors.push({ file, line: lineOf(node), path, message });
  if (doc.errors.length > 0)
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        file,
        line: lineCounter.linePos(e.pos[0]).line,
        path: '',
        message: e.message.split('\n')[0] ?? e.message,
      })),
    };
  const root = doc.contents;
  if (!isMap(root)) {
    fail('', 'expected a mapping with rules (and optionally classes)', root);
    return { ok: false, errors };
  }
  const classes: Record<string, BounceClass> = {};
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key !== 'classes' && key !== 'rules' && key !== 'codes')
      fail(key, `unknown section "${key}" (expected rules, codes, classes)`, pair.key as Node);
  }
  const classesNode = root.get('classes', true);
  if (classesNode !== undefined) {
    if (!isMap(classesNode)) fail('classes', 'expected a mapping of class names', classesNode);
    else
      for (const pair of classesNode.items) {
        const name = isScalar(pair.key) ? String(pair.key.value) : '';
        if (!CLASS_NAME.test(name))
          fail(`classes.${name}`, 'a class name is CamelCase, e.g. Blocklisted', pair.key as Node);
        const parsed = ClassSchema.safeParse(isPair(pair) ? (pair.value as Node)?.toJSON() : null);
        if (!parsed.success)
          for (const issue of parsed.error.issues)
            fail(
              ['classes', name, ...issue.path].join('.'),
              issue.message,
              (pair.value as Node | null) ?? (pair.key as Node),
            );
        else classes[name] = parsed.data;
      }
  }
  const tier = (section: 'rules' | 'codes'): BounceRule[] => {
    const found: BounceRule[] = [];
    const node = root.get(section, true);
    if (node === undefined) return found;
    if (!isMap(node)) {
      fail(section, 'expected a mapping: class → list of regexes', node as Node);
      return found;
    }
    for (const pair of node.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!(name in BUILT_IN_CLASSES) && !(name in classes))
        fail(
          `${section}.${name}`,
          `unknown class "${name}" (a built-in class, or one defined under classes)`,
          pair.key as Node,
        );
      const list = pair.value;
      if (!isSeq(list)) {
        fail(`${section}.${name}`, 'expected a list of regular expressions', pair.value as Node);
        continue;
      }
      list.items.forEach((item, i) => {
        const source = isScalar(item) ? item.value : undefined;
        if (typeof source !== 'string') {
          fail(`${section}.${name}.${i}`, 'expected a regular expression in quotes', item as Node);
          return;
        }
        try {
          found.push({
            className: name,
            pattern: new RegExp(source, 'i'),
            origin: { file, line: lineOf(item as Node) },
          });
        } catch (error) {
          fail(`${section}.${name}.${i}`, (error as Error).message, item as Node);
        }
      });
    }
    return found;
  };
  const phrases = tier('rules');
  const codes = tier('codes');
  if (root.get('rules', true) === undefined && root.get('codes', true) === undefined)
    fail('', 'expected rules (class → regexes on the reply) or codes', root);
  return errors.length > 0
    ? { ok: false, errors }
    : { ok: true, rules: { phrases, codes, classes } };
};

/** Reads a rule file; `name` is how its rules cite it (the path, unless told otherwise). */
export const loadBounceRulesFile = (file: string, name = file): LoadedBounceRules => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return {
      ok: false,
      errors: [{ file: name, line: 0, path: '', message: (error as Error).message }],
    };
  }
  return parseBounceRules(text, name);
};
