import { z } from 'zod';
import type { Decider } from '../command-handling/handle-command.js';
import { isCidr } from '../network/network-matcher.js';

export const CredentialCreatedSchema = z.object({
  credentialId: z.string().min(1),
  name: z.string().min(1),
  username: z.string().min(1),
  /** A self-describing password hash (`scrypt$N$r$p$salt$hash`); the password is never stored. */
  passwordHash: z.string().min(1),
  domains: z.array(z.string().min(1)).min(1),
  /** The egress pool its mail leaves from; null (and older events): the default pool. */
  pool: z.string().min(1).nullable().default(null),
  /**
   * One-click unsubscribe headers on its mail: `on` for all of it, `off` for none; null
   * (and older events): bulk mail only. A message's X-Mailtrail-Unsubscribe still wins.
   */
  unsubscribe: z.enum(['on', 'off']).nullable().default(null),
  /** Where AUTH (and its API keys) may come from, in CIDR form; empty: anywhere. */
  allowedNetworks: z.array(z.string().refine(isCidr, 'expected a CIDR network')).default([]),
  createdAt: z.number().int(),
});

export const CredentialNetworksSetSchema = z.object({
  credentialId: z.string().min(1),
  /** Empty: anywhere again. */
  allowedNetworks: z.array(z.string().refine(isCidr, 'expected a CIDR network')),
  at: z.number().int(),
});

/** Who stopped a credential's submissions: an operator, or the anomaly detector. */
const PausedBySchema = z.enum(['operator', 'anomaly']);

export const CredentialPausedSchema = z.object({
  credentialId: z.string().min(1),
  by: PausedBySchema,
  reason: z.string(),
  at: z.number().int(),
});

export const CredentialResumedSchema = z.object({
  credentialId: z.string().min(1),
  at: z.number().int(),
});

/**
 * The credential's mail looks unlike its own past: a volume spike over its rolling
 * baseline, a sending domain it never used, or a bounce rate far above the usual. The
 * figures say by how much, so an operator (or a webhook) can judge.
 */
export const CredentialAnomalyDetectedSchema = z.object({
  credentialId: z.string().min(1),
  name: z.string().min(1),
  kind: z.enum(['volume-spike', 'new-domain', 'bounce-rate']),
  /** The figures that tripped the detector, e.g. {lastHour, baselinePerHour, factor}. */
  figures: z.record(z.string(), z.union([z.number(), z.string()])),
  summary: z.string(),
  detectedAt: z.number().int(),
});

export const CredentialRevokedSchema = z.object({
  credentialId: z.string().min(1),
  revokedAt: z.number().int(),
});

/**
 * An HTTP API key for the credential. Keys are long random strings, so a SHA-256 of the
 * key is as safe to store as a slow password hash and lets every request look it up in
 * one index probe; the key itself is shown once and never stored.
 */
export const ApiKeyCreatedSchema = z.object({
  credentialId: z.string().min(1),
  keyId: z.string().min(1),
  /** SHA-256 of the key, hex. */
  keyHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** The key's last four characters, so operators can tell keys apart in a listing. */
  hint: z.string(),
  createdAt: z.number().int(),
});

export const ApiKeyRevokedSchema = z.object({
  credentialId: z.string().min(1),
  keyId: z.string().min(1),
  revokedAt: z.number().int(),
});

export type CredentialCreated = {
  type: 'CredentialCreated';
  data: z.infer<typeof CredentialCreatedSchema>;
};
export type CredentialRevoked = {
  type: 'CredentialRevoked';
  data: z.infer<typeof CredentialRevokedSchema>;
};
export type ApiKeyCreated = { type: 'ApiKeyCreated'; data: z.infer<typeof ApiKeyCreatedSchema> };
export type ApiKeyRevoked = { type: 'ApiKeyRevoked'; data: z.infer<typeof ApiKeyRevokedSchema> };
export type CredentialNetworksSet = {
  type: 'CredentialNetworksSet';
  data: z.infer<typeof CredentialNetworksSetSchema>;
};
export type CredentialPaused = {
  type: 'CredentialPaused';
  data: z.infer<typeof CredentialPausedSchema>;
};
export type CredentialResumed = {
  type: 'CredentialResumed';
  data: z.infer<typeof CredentialResumedSchema>;
};
export type CredentialAnomalyDetected = {
  type: 'CredentialAnomalyDetected';
  data: z.infer<typeof CredentialAnomalyDetectedSchema>;
};
export type CredentialEvent =
  | CredentialCreated
  | CredentialRevoked
  | ApiKeyCreated
  | ApiKeyRevoked
  | CredentialNetworksSet
  | CredentialPaused
  | CredentialResumed
  | CredentialAnomalyDetected;

export const CREDENTIAL_EVENT_SCHEMAS = {
  CredentialCreated: CredentialCreatedSchema,
  CredentialRevoked: CredentialRevokedSchema,
  ApiKeyCreated: ApiKeyCreatedSchema,
  ApiKeyRevoked: ApiKeyRevokedSchema,
  CredentialNetworksSet: CredentialNetworksSetSchema,
  CredentialPaused: CredentialPausedSchema,
  CredentialResumed: CredentialResumedSchema,
  CredentialAnomalyDetected: CredentialAnomalyDetectedSchema,
} as const;

export const CREDENTIAL_STREAM_PREFIX = 'credential-';
export const credentialStream = (id: string): string => `${CREDENTIAL_STREAM_PREFIX}${id}`;

export type CredentialState =
  | { readonly status: 'absent' }
  | {
      readonly status: 'active' | 'revoked';
      readonly created: CredentialCreated['data'];
      /** Its API keys still in force, by key id. */
      readonly apiKeys: ReadonlySet<string>;
      readonly allowedNetworks: readonly string[];
      /** Submissions are refused (4xx) until an operator resumes it. */
      readonly paused: boolean;
    };

export type CredentialCommand =
  | { readonly type: 'CreateCredential'; readonly data: CredentialCreated['data'] }
  | { readonly type: 'RevokeCredential'; readonly credentialId: string; readonly at: number }
  | { readonly type: 'CreateApiKey'; readonly data: ApiKeyCreated['data'] }
  | {
      readonly type: 'RevokeApiKey';
      readonly credentialId: string;
      readonly keyId: string;
      readonly at: number;
    }
  | {
      readonly type: 'SetAllowedNetworks';
      readonly credentialId: string;
      readonly allowedNetworks: readonly string[];
      readonly at: number;
    }
  | {
      readonly type: 'PauseCredential';
      readonly credentialId: string;
      readonly reason: string;
      readonly at: number;
    }
  | { readonly type: 'ResumeCredential'; readonly credentialId: string; readonly at: number }
  | {
      readonly type: 'RecordAnomaly';
      readonly data: CredentialAnomalyDetected['data'];
      /** Also pause the credential (config `abuse.anomalies.pause`). */
      readonly pause: boolean;
    };

export class CredentialError extends Error {
  constructor(
    readonly code:
      | 'CredentialExists'
      | 'CredentialNotFound'
      | 'CredentialRevoked'
      | 'ApiKeyNotFound',
    message: string,
  ) {
    super(message);
    this.name = `CredentialError[${code}]`;
  }
}

const activeOrThrow = (state: CredentialState, credentialId: string) => {
  if (state.status === 'absent')
    throw new CredentialError('CredentialNotFound', `no credential ${credentialId}`);
  if (state.status === 'revoked')
    throw new CredentialError('CredentialRevoked', `credential ${credentialId} is revoked`);
  return state;
};

const sameNetworks = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((n, i) => n === b[i]);

export const decideCredential = (
  command: CredentialCommand,
  state: CredentialState,
): CredentialEvent[] => {
  switch (command.type) {
    case 'CreateCredential':
      if (state.status !== 'absent')
        throw new CredentialError('CredentialExists', `${command.data.credentialId} exists`);
      return [{ type: 'CredentialCreated', data: command.data }];
    case 'RevokeCredential':
      if (state.status === 'absent')
        throw new CredentialError('CredentialNotFound', `no credential ${command.credentialId}`);
      // Revoking twice is harmless: nothing new happened.
      if (state.status === 'revoked') return [];
      return [
        {
          type: 'CredentialRevoked',
          data: { credentialId: command.credentialId, revokedAt: command.at },
        },
      ];
    case 'CreateApiKey':
      if (state.status === 'absent')
        throw new CredentialError(
          'CredentialNotFound',
          `no credential ${command.data.credentialId}`,
        );
      if (state.status === 'revoked')
        throw new CredentialError(
          'CredentialRevoked',
          `credential ${command.data.credentialId} is revoked`,
        );
      return [{ type: 'ApiKeyCreated', data: command.data }];
    case 'RevokeApiKey':
      if (state.status === 'absent')
        throw new CredentialError('CredentialNotFound', `no credential ${command.credentialId}`);
      if (!state.apiKeys.has(command.keyId))
        throw new CredentialError(
          'ApiKeyNotFound',
          `credential ${command.credentialId} has no API key ${command.keyId} in force`,
        );
      return [
        {
          type: 'ApiKeyRevoked',
          data: { credentialId: command.credentialId, keyId: command.keyId, revokedAt: command.at },
        },
      ];
    case 'SetAllowedNetworks': {
      const active = activeOrThrow(state, command.credentialId);
      if (sameNetworks(active.allowedNetworks, command.allowedNetworks)) return [];
      return [
        {
          type: 'CredentialNetworksSet',
          data: {
            credentialId: command.credentialId,
            allowedNetworks: [...command.allowedNetworks],
            at: command.at,
          },
        },
      ];
    }
    case 'PauseCredential':
      // Pausing a paused credential changes nothing: the first reason stands.
      if (activeOrThrow(state, command.credentialId).paused) return [];
      return [
        {
          type: 'CredentialPaused',
          data: {
            credentialId: command.credentialId,
            by: 'operator',
            reason: command.reason,
            at: command.at,
          },
        },
      ];
    case 'ResumeCredential':
      if (!activeOrThrow(state, command.credentialId).paused) return [];
      return [
        {
          type: 'CredentialResumed',
          data: { credentialId: command.credentialId, at: command.at },
        },
      ];
    case 'RecordAnomaly': {
      // A revoked credential sends nothing more: nothing to watch.
      if (state.status !== 'active') return [];
      const events: CredentialEvent[] = [{ type: 'CredentialAnomalyDetected', data: command.data }];
      if (command.pause && !state.paused)
        events.push({
          type: 'CredentialPaused',
          data: {
            credentialId: command.data.credentialId,
            by: 'anomaly',
            reason: command.data.summary,
            at: command.data.detectedAt,
          },
        });
      return events;
    }
  }
};

export const evolveCredential = (
  state: CredentialState,
  event: CredentialEvent,
): CredentialState => {
  switch (event.type) {
    case 'CredentialCreated':
      return {
        status: 'active',
        created: event.data,
        apiKeys: new Set(),
        allowedNetworks: event.data.allowedNetworks ?? [],
        paused: false,
      };
    case 'CredentialRevoked':
      return state.status === 'absent' ? state : { ...state, status: 'revoked' };
    case 'ApiKeyCreated':
      return state.status === 'absent'
        ? state
        : { ...state, apiKeys: new Set([...state.apiKeys, event.data.keyId]) };
    case 'ApiKeyRevoked':
      return state.status === 'absent'
        ? state
        : { ...state, apiKeys: new Set([...state.apiKeys].filter((k) => k !== event.data.keyId)) };
    case 'CredentialNetworksSet':
      return state.status === 'absent'
        ? state
        : { ...state, allowedNetworks: event.data.allowedNetworks };
    case 'CredentialPaused':
      return state.status === 'absent' ? state : { ...state, paused: true };
    case 'CredentialResumed':
      return state.status === 'absent' ? state : { ...state, paused: false };
    case 'CredentialAnomalyDetected':
      return state;
  }
};

export const credentialDecider = {
  decide: decideCredential,
  evolve: evolveCredential,
  initialState: { status: 'absent' } as CredentialState,
  schemas: CREDENTIAL_EVENT_SCHEMAS,
} satisfies Decider<CredentialCommand, CredentialEvent, CredentialState>;
