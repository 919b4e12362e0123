import type { Logger } from 'pino';
import { createBounceListener } from '../../adapters/bounce-in/bounce-listener.js';
import { type BounceRules, classifyReply } from '../../domain/bounce/classifier.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { parseTargetToken, parseVerpLocalPart } from '../../domain/verp/verp.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import { isSendingDomain } from '../../projections/sending-domains/sending-domains.js';
import { recordInboundReport } from '../bounce-in/record-inbound-report.js';
import type { Config } from '../config/schema.js';
import { recordUnsubscribe } from '../unsubscribe/record-unsubscribe.js';

/** Fixed addresses feedback loops and RFC 5321 expect on a mail domain. */
const ROLE_ADDRESSES = new Set(['fbl', 'abuse', 'postmaster']);
const UNSUBSCRIBE_PREFIX = 'u+';

/** Where bounces of mail from domains we do not send for come back (config: bounces.fallbackDomain). */
export const fallbackReturnPathDomain = (config: Config): string | null =>
  config.bounces.fallbackDomain === undefined
    ? `${config.domains.returnPathPrefix}.${config.hostname}`.toLowerCase()
    : config.bounces.fallbackDomain;

/**
 * Starts the bounce listener on `bounces.listen` for the return-path domains of the
 * onboarded sending domains (`bounces.<domain>`). A port it may not bind (25 without root,
 * or taken) is logged with its config key and the relay goes on without it.
 */
export const startBounceIntake = async (deps: {
  readonly config: Config;
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  readonly verpKey: Uint8Array;
  /** The key of unsubscribe tokens: `u+<token>@bounces.<domain>` is a mailto unsubscribe. */
  readonly unsubscribeKey: Uint8Array;
  readonly rules: BounceRules;
  readonly log: Logger;
}): Promise<{ readonly port: number | null; close(): Promise<void> }> => {
  const { config, readDb, verpKey } = deps;
  const listen = config.bounces.listen;
  if (!listen) return { port: null, close: async () => undefined };
  const prefix = `${config.domains.returnPathPrefix}.`;
  const fallback = fallbackReturnPathDomain(config);
  const listener = createBounceListener(
    {
      checkRecipient: (address) => {
        const at = address.lastIndexOf('@');
        const local = address.slice(0, at);
        const domain = address.slice(at + 1).toLowerCase();
        const ours =
          domain === fallback ||
          (domain.startsWith(prefix) && isSendingDomain(readDb, domain.slice(prefix.length)));
        if (!ours) return 'NotOurDomain';
        if (local.toLowerCase().startsWith(UNSUBSCRIBE_PREFIX))
          return parseTargetToken(deps.unsubscribeKey, local.slice(UNSUBSCRIBE_PREFIX.length)).ok
            ? 'ok'
            : 'Forged';
        const parsed = parseVerpLocalPart(verpKey, local);
        if (parsed.ok) return 'ok';
        if (parsed.code !== 'NotVerp') return 'Forged';
        return ROLE_ADDRESSES.has(local.toLowerCase()) ? 'ok' : 'Unknown';
      },
      record: async ({ rcptTo, raw }) => {
        const locals = rcptTo.map((a) => a.slice(0, a.lastIndexOf('@')).toLowerCase());
        // A mail to an unsubscribe address is the request itself, whatever it says.
        for (const local of locals.filter((l) => l.startsWith(UNSUBSCRIBE_PREFIX)))
          await recordUnsubscribe(
            { store: deps.store, key: deps.unsubscribeKey, now: Date.now },
            local.slice(UNSUBSCRIBE_PREFIX.length),
            'mailto',
          );
        if (locals.every((l) => l.startsWith(UNSUBSCRIBE_PREFIX))) return;
        const result = await recordInboundReport(
          {
            store: deps.store,
            verpKey,
            classify: (reply) => classifyReply(deps.rules, reply),
            now: Date.now,
          },
          { rcptLocalParts: rcptTo.map((a) => a.slice(0, a.lastIndexOf('@'))), raw },
        );
        deps.log.info({ ...result, rcptTo }, 'inbound report');
      },
    },
    { hostname: config.hostname, maxMessageSize: 10 * 1024 * 1024 },
  );
  try {
    const { port } = await listener.listen(listen.port, listen.host);
    return { port, close: () => listener.close() };
  } catch (error) {
    deps.log.error(
      { err: error },
      `bounces.listen: could not listen on ${listen.host}:${listen.port}; out-of-band bounces and complaints will not be received (set bounces.listen, or null to turn it off)`,
    );
    await listener.close().catch(() => undefined);
    return { port: null, close: async () => undefined };
  }
};
