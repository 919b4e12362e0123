import { randomUUID } from 'node:crypto';
import type { Resolver } from 'node:dns/promises';
import { generateDkimKeyPair } from '../../adapters/dkim/dkim-signer.js';
import type { DkimKeyStore } from '../../adapters/dkim-keys/file-key-store.js';
import { handleCommand, loadState } from '../../domain/command-handling/handle-command.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import {
  pendingGeneration,
  SendingDomainError,
  type SendingDomainState,
  sendingDomainDecider,
} from '../../domain/sending-domain/decider.js';
import {
  type DnsRecord,
  expectedRecords,
  type RecordSettings,
} from '../../domain/sending-domain/dns-records.js';
import { normalizeDomainName } from '../../domain/sending-domain/domain-name.js';
import {
  type DkimAlgorithm,
  type DkimPublicKey,
  domainStream,
} from '../../domain/sending-domain/events.js';
import { datedSelector } from '../../domain/sending-domain/selectors.js';
import { listCredentials } from '../../projections/credentials/credentials.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import { type RecordCheck, verifyRecords } from './verify-records.js';

export interface DomainsDeps {
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  readonly keyStore: DkimKeyStore;
  readonly settings: RecordSettings;
  readonly now: () => number;
}

export class DomainsError extends Error {
  constructor(
    readonly code: 'CredentialNotFound',
    message: string,
  ) {
    super(message);
    this.name = `DomainsError[${code}]`;
  }
}

const ALGORITHMS: readonly DkimAlgorithm[] = ['rsa-sha256', 'ed25519-sha256'];

export type AddedDomain = Extract<SendingDomainState, { status: 'added' }>;

export interface DomainReport {
  readonly domain: AddedDomain;
  readonly records: readonly DnsRecord[];
}

const newEventId = () => randomUUID();

/**
 * One RSA-2048 and one Ed25519 key with dated selectors. The private halves are in the key
 * store (fsynced) before any event names them, so an event never points at a missing key.
 */
const generateKeys = (
  deps: DomainsDeps,
  domain: string,
  taken: ReadonlySet<string>,
): DkimPublicKey[] =>
  ALGORITHMS.map((algorithm) => {
    const selector = datedSelector(algorithm, deps.now(), taken);
    const pair = generateDkimKeyPair(algorithm);
    deps.keyStore.save(domain, selector, pair.privateKeyPem);
    return { selector, algorithm, publicKey: pair.publicKeyDns };
  });

const report = (deps: DomainsDeps, state: SendingDomainState): DomainReport => {
  if (state.status !== 'added')
    throw new SendingDomainError('DomainNotFound', 'no such sending domain (domains add it first)');
  return { domain: state, records: expectedRecords(state, deps.settings) };
};

export const loadSendingDomain = async (
  deps: Pick<DomainsDeps, 'store'>,
  input: string,
): Promise<SendingDomainState> =>
  (await loadState(deps.store, domainStream(normalizeDomainName(input)), sendingDomainDecider))
    .state;

export const addSendingDomain = async (
  deps: DomainsDeps,
  input: { readonly domain: string; readonly credential: string | null },
): Promise<DomainReport> => {
  const domain = normalizeDomainName(input.domain);
  let credential: { id: string; name: string } | null = null;
  if (input.credential !== null) {
    const match = listCredentials(deps.readDb).find(
      (c) =>
        c.status === 'active' &&
        (c.name === input.credential ||
          c.username === input.credential ||
          c.id === input.credential),
    );
    if (!match)
      throw new DomainsError('CredentialNotFound', `no active credential ${input.credential}`);
    credential = { id: match.id, name: match.name };
  }
  const loaded = await loadState(deps.store, domainStream(domain), sendingDomainDecider);
  // Refuse a duplicate before making keys for it.
  sendingDomainDecider.decide(
    { type: 'AddDomain', domain, credential, keys: [], at: deps.now() },
    loaded.state,
  );
  const keys = generateKeys(deps, domain, new Set());
  const result = await handleCommand(
    deps.store,
    domainStream(domain),
    sendingDomainDecider,
    { type: 'AddDomain', domain, credential, keys, at: deps.now() },
    { newEventId, loaded },
  );
  return report(deps, result.state);
};

export const rotateDomainKeys = async (
  deps: DomainsDeps,
  input: { readonly domain: string; readonly now: boolean },
): Promise<DomainReport> => {
  const domain = normalizeDomainName(input.domain);
  const loaded = await loadState(deps.store, domainStream(domain), sendingDomainDecider);
  const taken = new Set(
    loaded.state.status === 'added'
      ? loaded.state.generations.flatMap((g) => g.keys.map((k) => k.selector))
      : [],
  );
  // Refusals (no such domain, a rotation already pending) come before any key is made.
  sendingDomainDecider.decide(
    { type: 'RotateKeys', keys: [], activateNow: input.now, at: deps.now() },
    loaded.state,
  );
  const keys = generateKeys(deps, domain, taken);
  const result = await handleCommand(
    deps.store,
    domainStream(domain),
    sendingDomainDecider,
    { type: 'RotateKeys', keys, activateNow: input.now, at: deps.now() },
    { newEventId, loaded },
  );
  return report(deps, result.state);
};

/** Switches signing to the pending generation now, published or not. */
export const activatePendingKeys = async (
  deps: DomainsDeps,
  input: { readonly domain: string },
): Promise<DomainReport> => {
  const domain = normalizeDomainName(input.domain);
  const loaded = await loadState(deps.store, domainStream(domain), sendingDomainDecider);
  const pending = pendingGeneration(loaded.state);
  const result = await handleCommand(
    deps.store,
    domainStream(domain),
    sendingDomainDecider,
    {
      type: 'ActivateKeys',
      generation: pending?.generation ?? 0,
      reason: 'forced',
      at: deps.now(),
    },
    { newEventId, loaded },
  );
  return report(deps, result.state);
};

export interface VerifyReport extends DomainReport {
  readonly checks: readonly RecordCheck[];
  /** The pending generation that this check found published and switched signing to. */
  readonly activated: number | null;
}

/**
 * Checks every record; when all the pending generation's DKIM records are published,
 * signing moves to it (and the previous keys retire: they stop signing, keep verifying).
 */
export const verifySendingDomain = async (
  deps: DomainsDeps,
  resolver: Resolver,
  input: { readonly domain: string },
): Promise<VerifyReport> => {
  const domain = normalizeDomainName(input.domain);
  const loaded = await loadState(deps.store, domainStream(domain), sendingDomainDecider);
  const before = report(deps, loaded.state);
  const checks = await verifyRecords(resolver, before.records, deps.settings.egressAddresses);
  const pending = pendingGeneration(loaded.state);
  const published =
    pending !== undefined &&
    checks
      .filter((c) => c.record.kind === 'dkim' && c.record.generation === pending.generation)
      .every((c) => c.status === 'ok');
  if (!pending || !published) return { ...before, checks, activated: null };
  const result = await handleCommand(
    deps.store,
    domainStream(domain),
    sendingDomainDecider,
    { type: 'ActivateKeys', generation: pending.generation, reason: 'published', at: deps.now() },
    { newEventId, loaded },
  );
  return { ...report(deps, result.state), checks, activated: pending.generation };
};

/** Removes keys retired longer ago than the grace period; says which records can go. */
export const pruneRetiredKeys = async (
  deps: DomainsDeps,
  input: { readonly domain: string; readonly graceMs: number },
): Promise<DomainReport & { readonly removed: readonly DnsRecord[] }> => {
  const domain = normalizeDomainName(input.domain);
  const loaded = await loadState(deps.store, domainStream(domain), sendingDomainDecider);
  const result = await handleCommand(
    deps.store,
    domainStream(domain),
    sendingDomainDecider,
    { type: 'RemoveRetiredKeys', graceMs: input.graceMs, at: deps.now() },
    { newEventId, loaded },
  );
  const removedGenerations = new Set(
    result.events.flatMap((e) => (e.type === 'DkimKeysRemoved' ? [e.data.generation] : [])),
  );
  const before = report(deps, loaded.state);
  const removed = before.records.filter(
    (r) => r.generation !== undefined && removedGenerations.has(r.generation),
  );
  // The events are durable first; a crash here leaves a key file nobody uses.
  for (const r of removed) if (r.selector) deps.keyStore.remove(domain, r.selector);
  return { ...report(deps, result.state), removed };
};
