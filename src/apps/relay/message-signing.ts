import type { Logger } from 'pino';
import type { SignedHeaders, SigningKey } from '../../adapters/dkim/dkim-signer.js';
import type { DkimSigner } from '../../adapters/dkim/signer-thread.js';
import type { DkimKeyStore } from '../../adapters/dkim-keys/file-key-store.js';
import { organizationalDomain } from '../../domain/sending-domain/organizational-domain.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import {
  activeSigningKeys,
  type SigningKeyRow,
} from '../../projections/sending-domains/sending-domains.js';
import { cachedLookup } from './lookup-cache.js';

export interface MessageSigningDeps {
  readonly readDb: ReadModelDb;
  readonly keyStore: DkimKeyStore;
  /** Where the signatures are made: the signer thread. */
  readonly signer: Pick<DkimSigner, 'sign'>;
  /** Every message also gets a signature for this domain, when it has keys. */
  readonly operatorDomain: string | null;
  readonly log: Logger;
}

/**
 * Signs a message for the domain of its From: address, or for that domain's organizational
 * domain when only that one was onboarded, with every active key of that domain (RSA and
 * Ed25519), plus the operator's domain if configured. Keys are parsed once (key store).
 */
export const createMessageSigning = (deps: MessageSigningDeps) => {
  const warned = new Set<string>();
  // Which keys sign for a set of domains: a rotation or a new domain applies within a second.
  const keysFor = cachedLookup(
    (domains) => activeSigningKeys(deps.readDb, domains ? domains.split(' ') : []),
    1000,
    Date.now,
  );
  const signingKeys = (domains: readonly string[]): SigningKeyRow[] => keysFor(domains.join(' '));
  const keysOf = (rows: readonly SigningKeyRow[]): SigningKey[] =>
    rows.flatMap((row) => {
      const privateKey = deps.keyStore.load(row.domain, row.selector);
      if (privateKey) return [{ ...row, privateKey }];
      if (!warned.has(row.selector)) {
        warned.add(row.selector);
        deps.log.error(
          { domain: row.domain, selector: row.selector },
          'DKIM private key missing from the key store; signing without it',
        );
      }
      return [];
    });

  return async (
    message: Buffer,
    fromDomain: string | null,
    at: number,
  ): Promise<SignedHeaders | null> => {
    const candidates = fromDomain ? [fromDomain, organizationalDomain(fromDomain)] : [];
    const operator = deps.operatorDomain;
    const rows = signingKeys([...new Set([...candidates, ...(operator ? [operator] : [])])]);
    // The From: domain's own keys win over its organizational domain's.
    const own = candidates
      .map((d) => rows.filter((r) => r.domain === d))
      .find((found) => found.length > 0);
    const extra =
      operator && own?.[0]?.domain !== operator ? rows.filter((r) => r.domain === operator) : [];
    const keys = keysOf([...(own ?? []), ...extra]);
    return keys.length === 0 ? null : await deps.signer.sign(message, keys, at);
  };
};

export type SignOutgoing = ReturnType<typeof createMessageSigning>;
