import { z } from 'zod';
import type { Decider } from '../command-handling/handle-command.js';
import { SmtpReplySchema } from '../message/events.js';

/**
 * The `site-<key>` stream: what the receiving site's replies made us do. Backoff and
 * suspension are events, so a restart (which replays them) does not lift them.
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

export type SiteBackoffStarted = {
  type: 'SiteBackoffStarted';
  data: z.infer<typeof SiteBackoffStartedSchema>;
};
export type SiteSuspended = { type: 'SiteSuspended'; data: z.infer<typeof SiteSuspendedSchema> };
export type SiteEvent = SiteBackoffStarted | SiteSuspended;

export const SITE_STREAM_PREFIX = 'site-';
export const siteStream = (site: string): string => `${SITE_STREAM_PREFIX}${site}`;

export interface SiteState {
  readonly backoff: SiteBackoffStarted['data'] | null;
  readonly suspension: SiteSuspended['data'] | null;
}

export const initialSiteState: SiteState = { backoff: null, suspension: null };

export type SiteCommand =
  | { readonly type: 'StartBackoff'; readonly data: SiteBackoffStarted['data'] }
  | { readonly type: 'Suspend'; readonly data: SiteSuspended['data'] };

/** An action already in force until at least as late is not repeated. */
export const decideSite = (command: SiteCommand, state: SiteState): SiteEvent[] => {
  switch (command.type) {
    case 'StartBackoff':
      return state.backoff && state.backoff.until >= command.data.until
        ? []
        : [{ type: 'SiteBackoffStarted', data: command.data }];
    case 'Suspend':
      return state.suspension && state.suspension.until >= command.data.until
        ? []
        : [{ type: 'SiteSuspended', data: command.data }];
  }
};

export const evolveSite = (state: SiteState, event: SiteEvent): SiteState => {
  switch (event.type) {
    case 'SiteBackoffStarted':
      return { ...state, backoff: event.data };
    case 'SiteSuspended':
      return { ...state, suspension: event.data };
  }
};

/** What is in force at `now`: a lapsed backoff or suspension is simply over. */
export const inForce = (state: SiteState, now: number): SiteState => ({
  backoff: state.backoff && state.backoff.until > now ? state.backoff : null,
  suspension: state.suspension && state.suspension.until > now ? state.suspension : null,
});

export const siteDecider: Decider<SiteCommand, SiteEvent, SiteState> = {
  decide: decideSite,
  evolve: evolveSite,
  initialState: initialSiteState,
  schemas: { SiteBackoffStarted: SiteBackoffStartedSchema, SiteSuspended: SiteSuspendedSchema },
};
