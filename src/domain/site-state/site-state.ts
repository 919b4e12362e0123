import { z } from 'zod';
import type { Decider } from '../command-handling/handle-command.js';
import { SmtpReplySchema } from '../message/events.js';

/**
 * The `site-<key>` stream: what the receiving site's replies made us do. Backoff, suspension
 * and a disabled source concern a queue (`provider:gmail from mta1`), a queue bounce the
 * whole site (`provider:gmail`). They are events, so a restart (which replays them) does
 * not lift them.
 */

const RuleRefSchema = z.object({
  file: z.string(),
  line: z.number().int(),
  match: z.string(),
});

const Triggered = {
  at: z.number().int(),
  until: z.number().int(),
  rule: RuleRefSchema,
  /** The reply that made the count reach the threshold, and the count. */
  reply: SmtpReplySchema,
  matches: z.number().int().positive(),
};

export const SiteBackoffStartedSchema = z.object({
  ...Triggered,
  limits: z.object({
    maxConnections: z.number().int().positive().optional(),
    messageRate: z.string().optional(),
    connectionRate: z.string().optional(),
  }),
});
export const SiteSuspendedSchema = z.object(Triggered);
/** The egress source is not used for this site until `until`: its traffic takes the others. */
export const SourceDisabledSchema = z.object(Triggered);
/** Everything queued for the site, and all that arrives for it until `until`, bounces. */
export const SiteQueueBouncedSchema = z.object(Triggered);

export type SiteBackoffStarted = {
  type: 'SiteBackoffStarted';
  data: z.infer<typeof SiteBackoffStartedSchema>;
};
export type SiteSuspended = { type: 'SiteSuspended'; data: z.infer<typeof SiteSuspendedSchema> };
export type SourceDisabled = { type: 'SourceDisabled'; data: z.infer<typeof SourceDisabledSchema> };
export type SiteQueueBounced = {
  type: 'SiteQueueBounced';
  data: z.infer<typeof SiteQueueBouncedSchema>;
};
export type SiteEvent = SiteBackoffStarted | SiteSuspended | SourceDisabled | SiteQueueBounced;

export const SITE_STREAM_PREFIX = 'site-';
export const siteStream = (site: string): string => `${SITE_STREAM_PREFIX}${site}`;

export interface SiteState {
  readonly backoff: SiteBackoffStarted['data'] | null;
  readonly suspension: SiteSuspended['data'] | null;
  readonly disabled: SourceDisabled['data'] | null;
  readonly bounce: SiteQueueBounced['data'] | null;
}

export const initialSiteState: SiteState = {
  backoff: null,
  suspension: null,
  disabled: null,
  bounce: null,
};

export type SiteCommand =
  | { readonly type: 'StartBackoff'; readonly data: SiteBackoffStarted['data'] }
  | { readonly type: 'Suspend'; readonly data: SiteSuspended['data'] }
  | { readonly type: 'DisableSource'; readonly data: SourceDisabled['data'] }
  | { readonly type: 'BounceQueue'; readonly data: SiteQueueBounced['data'] };

/** Which part of the state each event sets. */
const FIELD = {
  SiteBackoffStarted: 'backoff',
  SiteSuspended: 'suspension',
  SourceDisabled: 'disabled',
  SiteQueueBounced: 'bounce',
} as const satisfies Record<SiteEvent['type'], keyof SiteState>;

const EVENT = {
  StartBackoff: 'SiteBackoffStarted',
  Suspend: 'SiteSuspended',
  DisableSource: 'SourceDisabled',
  BounceQueue: 'SiteQueueBounced',
} as const satisfies Record<SiteCommand['type'], SiteEvent['type']>;

/** An action already in force until at least as late is not repeated. */
export const decideSite = (command: SiteCommand, state: SiteState): SiteEvent[] => {
  const type = EVENT[command.type];
  const current = state[FIELD[type]];
  return current && current.until >= command.data.until
    ? []
    : [{ type, data: command.data } as SiteEvent];
};

export const evolveSite = (state: SiteState, event: SiteEvent): SiteState => ({
  ...state,
  [FIELD[event.type]]: event.data,
});

/** What is in force at `now`: a lapsed action is simply over. */
export const inForce = (state: SiteState, now: number): SiteState => {
  const live = <T extends { until: number }>(a: T | null): T | null =>
    a && a.until > now ? a : null;
  return {
    backoff: live(state.backoff),
    suspension: live(state.suspension),
    disabled: live(state.disabled),
    bounce: live(state.bounce),
  };
};

export const siteDecider: Decider<SiteCommand, SiteEvent, SiteState> = {
  decide: decideSite,
  evolve: evolveSite,
  initialState: initialSiteState,
  schemas: {
    SiteBackoffStarted: SiteBackoffStartedSchema,
    SiteSuspended: SiteSuspendedSchema,
    SourceDisabled: SourceDisabledSchema,
    SiteQueueBounced: SiteQueueBouncedSchema,
  },
};
