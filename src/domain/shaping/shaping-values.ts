import { z } from 'zod';
import { parseDuration } from '../duration/duration.js';
import { parseRate, type Rate } from './rate.js';
import { RESPONSE_ACTIONS } from './response-rules.js';

export const rateSchema = z.string().transform((text, ctx): Rate => {
  const parsed = parseRate(text);
  if (!parsed) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected a rate such as 100/s, 3000/m, 50000/h or 1000000/d',
    });
    return z.NEVER;
  }
  return parsed;
});

export const durationSchema = z.string().transform((text, ctx): number => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 30s, 5m, 4h or 4d12h' });
    return z.NEVER;
  }
  return ms;
});

/**
 * The shaping parameters, each optional in a layer: a layer sets what it names and
 * inherits the rest (default → provider → domain → egress source).
 */
export const ShapingValuesSchema = z
  .object({
    /** Concurrent connections to a site (PowerMTA max-smtp-out). */
    maxConnections: z.number().int().positive(),
    /** Messages sent over one connection before it is closed (max-msg-per-connection). */
    maxMessagesPerConnection: z.number().int().positive(),
    /** Messages per interval to a site, evenly spaced (max-msg-rate); null: no limit. */
    messageRate: rateSchema.nullable(),
    /** New connections per interval to a site (max-connect-rate); null: no limit. */
    connectionRate: rateSchema.nullable(),
    /** Waits after the 1st, 2nd, ... failed attempt; the last one repeats (retry-after). */
    retry: z.array(durationSchema).min(1),
    /** Then the recipient bounces as expired (bounce-after). */
    maxAge: durationSchema,
    /** opportunistic: STARTTLS when offered; required: defer rather than send in clear. */
    tls: z.enum(['opportunistic', 'required', 'off']),
  })
  .partial()
  .strict();

export type ShapingValues = z.infer<typeof ShapingValuesSchema>;
export type ShapingKey = keyof ShapingValues;

export const SHAPING_KEYS: readonly ShapingKey[] = [
  'maxConnections',
  'maxMessagesPerConnection',
  'messageRate',
  'connectionRate',
  'retry',
  'maxAge',
  'tls',
];

/** The values every site gets when no layer says otherwise, and the config key of each. */
export interface BaseShaping {
  readonly values: Required<ShapingValues>;
  readonly keys: Readonly<Record<ShapingKey, string>>;
}

/** A rule on the remote's replies (in any layer's `responses`; layers add, not replace). */
export const ResponseRuleSchema = z
  .object({
    match: z.string().refine(
      (text) => {
        try {
          new RegExp(text, 'i');
          return true;
        } catch {
          return false;
        }
      },
      { message: 'expected a regular expression' },
    ),
    threshold: z.number().int().positive().default(1),
    within: durationSchema.prefault('1h'),
    action: z.enum(RESPONSE_ACTIONS),
    for: durationSchema,
    backoff: z
      .object({
        maxConnections: z.number().int().positive(),
        messageRate: rateSchema,
        connectionRate: rateSchema,
      })
      .partial()
      .strict()
      .default({}),
  })
  .strict();
