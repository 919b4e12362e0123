import { z } from 'zod';

/**
 * Suppression lists: addresses we must not send to. A list has a scope: `global` (every
 * sender), `credential:<name>` (one account's mail) or `domain:<sending domain>` (mail
 * from one domain). Automatic entries come from the message streams (a hard bounce); manual
 * adds and removes are events on `suppression-<scope>` streams.
 */
export type SuppressionScope = 'global' | `credential:${string}` | `domain:${string}`;

export const SUPPRESSION_REASONS = ['hard-bounce', 'complaint', 'unsubscribe', 'manual'] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

const SCOPE = /^(global|credential:[^\s:]+|domain:[a-z0-9.-]+\.[a-z]{2,})$/;

/** A scope as an operator writes it; null when it is not one. */
export const parseScope = (text: string): SuppressionScope | null => {
  const scope = text.trim().toLowerCase().startsWith('credential:')
    ? `credential:${text.trim().slice('credential:'.length)}`
    : text.trim().toLowerCase();
  return SCOPE.test(scope) ? (scope as SuppressionScope) : null;
};

/** The lists that apply to a message: its credential's, its sending domain's, and global. */
export const scopesFor = (
  credential: string | null,
  senderDomain: string | null,
): SuppressionScope[] => [
  ...(credential ? [`credential:${credential}` as const] : []),
  ...(senderDomain ? [`domain:${senderDomain.toLowerCase()}` as const] : []),
  'global',
];

/** Addresses are compared without case (local parts are case-insensitive in practice). */
export const normalizeAddress = (address: string): string => address.trim().toLowerCase();

export const SUPPRESSION_STREAM_PREFIX = 'suppression-';
export const suppressionStream = (scope: SuppressionScope): string =>
  `${SUPPRESSION_STREAM_PREFIX}${scope}`;

export const SuppressionAddedSchema = z.object({
  address: z.string().min(3),
  reason: z.enum(SUPPRESSION_REASONS),
  at: z.number().int(),
  /** The entry lapses then; null: never. */
  expiresAt: z.number().int().nullable(),
  /** Who or what added it (an operator's note, an import file). */
  note: z.string().nullable(),
});

export const SuppressionRemovedSchema = z.object({
  address: z.string().min(3),
  at: z.number().int(),
  note: z.string().nullable(),
});

export type SuppressionAdded = {
  type: 'SuppressionAdded';
  data: z.infer<typeof SuppressionAddedSchema>;
};
export type SuppressionRemoved = {
  type: 'SuppressionRemoved';
  data: z.infer<typeof SuppressionRemovedSchema>;
};
export type SuppressionEvent = SuppressionAdded | SuppressionRemoved;

/** Why a recipient was not sent to: which list, and why it is on it. */
export interface Suppression {
  readonly scope: SuppressionScope;
  readonly reason: SuppressionReason;
}
