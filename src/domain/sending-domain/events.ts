import { z } from 'zod';

/**
 * The `domain-<name>` stream: a sending domain, who may send for it, and its DKIM keys by
 * generation. Private keys never appear here: events carry the public half (the DNS `p=`
 * value) and the selector, which names the key in the key store.
 */

export const DkimAlgorithmSchema = z.enum(['rsa-sha256', 'ed25519-sha256']);
export type DkimAlgorithm = z.infer<typeof DkimAlgorithmSchema>;

export const DkimPublicKeySchema = z.object({
  selector: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  algorithm: DkimAlgorithmSchema,
  /** Base64, as published in the TXT record's p= tag. */
  publicKey: z.string().min(1),
});
export type DkimPublicKey = z.infer<typeof DkimPublicKeySchema>;

export const DomainAddedSchema = z.object({
  domain: z.string().min(3),
  /** The credential that may send for it; null for the operator's own signing domain. */
  credential: z.object({ id: z.string(), name: z.string() }).nullable(),
  addedAt: z.number().int(),
});

export const DkimKeysGeneratedSchema = z.object({
  generation: z.number().int().positive(),
  keys: z.array(DkimPublicKeySchema).min(1),
  at: z.number().int(),
});

export const DkimKeysActivatedSchema = z.object({
  generation: z.number().int().positive(),
  at: z.number().int(),
  /** added: the first keys sign at once; published: `verify` saw the records; forced: --now. */
  reason: z.enum(['added', 'published', 'forced']),
});

export const DkimKeysRetiredSchema = z.object({
  generation: z.number().int().positive(),
  at: z.number().int(),
});

export const DkimKeysRemovedSchema = z.object({
  generation: z.number().int().positive(),
  at: z.number().int(),
});

type Event<T extends string, S extends z.ZodType> = { type: T; data: z.infer<S> };
export type DomainAdded = Event<'DomainAdded', typeof DomainAddedSchema>;
export type DkimKeysGenerated = Event<'DkimKeysGenerated', typeof DkimKeysGeneratedSchema>;
export type DkimKeysActivated = Event<'DkimKeysActivated', typeof DkimKeysActivatedSchema>;
export type DkimKeysRetired = Event<'DkimKeysRetired', typeof DkimKeysRetiredSchema>;
export type DkimKeysRemoved = Event<'DkimKeysRemoved', typeof DkimKeysRemovedSchema>;
export type SendingDomainEvent =
  | DomainAdded
  | DkimKeysGenerated
  | DkimKeysActivated
  | DkimKeysRetired
  | DkimKeysRemoved;

export const SENDING_DOMAIN_EVENT_SCHEMAS = {
  DomainAdded: DomainAddedSchema,
  DkimKeysGenerated: DkimKeysGeneratedSchema,
  DkimKeysActivated: DkimKeysActivatedSchema,
  DkimKeysRetired: DkimKeysRetiredSchema,
  DkimKeysRemoved: DkimKeysRemovedSchema,
} as const;

export const DOMAIN_STREAM_PREFIX = 'domain-';
export const domainStream = (domain: string): string => `${DOMAIN_STREAM_PREFIX}${domain}`;
