import { domainToASCII } from 'node:url';

export class DomainNameError extends Error {
  readonly code = 'InvalidDomainName';
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`"${input}" is not a domain name we can send for: ${reason}`);
    this.name = 'DomainNameError[InvalidDomainName]';
  }
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * A sending domain as DNS and DKIM see it: lower case, ASCII (IDNs in their xn-- form), no
 * trailing dot, at least two labels of letters, digits and inner hyphens.
 */
export const normalizeDomainName = (input: string): string => {
  const trimmed = input.trim().replace(/\.$/, '');
  if (trimmed === '') throw new DomainNameError(input, 'it is empty');
  if (/[@/:\s]/.test(trimmed))
    throw new DomainNameError(input, 'a domain has no "@", "/", ":" or spaces');
  const ascii = domainToASCII(trimmed.toLowerCase());
  if (ascii === '') throw new DomainNameError(input, 'it is not a valid (internationalized) name');
  if (ascii.length > 253) throw new DomainNameError(input, 'it is longer than 253 octets');
  const labels = ascii.split('.');
  if (labels.length < 2) throw new DomainNameError(input, 'it needs at least two labels');
  const bad = labels.find((label) => !LABEL.test(label));
  if (bad !== undefined)
    throw new DomainNameError(
      input,
      `label "${bad}" must be 1 to 63 letters, digits or inner hyphens`,
    );
  if (/^\d+$/.test(labels[labels.length - 1] as string))
    throw new DomainNameError(input, 'the last label is numeric (an IP address?)');
  return ascii;
};

/** `name` is `parent` or below it (a.b.example.com under example.com; not badexample.com). */
export const isSameOrSubdomain = (name: string, parent: string): boolean => {
  const n = name.toLowerCase().replace(/\.$/, '');
  const p = parent.toLowerCase().replace(/\.$/, '');
  return n === p || n.endsWith(`.${p}`);
};
