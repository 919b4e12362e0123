import type { Decider } from '../command-handling/handle-command.js';
import {
  type DkimPublicKey,
  type DomainAdded,
  SENDING_DOMAIN_EVENT_SCHEMAS,
  type SendingDomainEvent,
} from './events.js';

export type GenerationStatus = 'pending' | 'active' | 'retired' | 'removed';

/** One set of keys (an RSA and an Ed25519 key, each with its selector) and where it stands. */
export interface KeyGeneration {
  readonly generation: number;
  readonly keys: readonly DkimPublicKey[];
  readonly status: GenerationStatus;
  readonly createdAt: number;
  readonly activatedAt: number | null;
  readonly retiredAt: number | null;
}

export type SendingDomainState =
  | { readonly status: 'absent' }
  | {
      readonly status: 'added';
      readonly domain: string;
      readonly credential: DomainAdded['data']['credential'];
      readonly addedAt: number;
      readonly generations: readonly KeyGeneration[];
    };

export type SendingDomainCommand =
  | {
      readonly type: 'AddDomain';
      readonly domain: string;
      readonly credential: DomainAdded['data']['credential'];
      readonly keys: readonly DkimPublicKey[];
      readonly at: number;
    }
  | {
      readonly type: 'RotateKeys';
      readonly keys: readonly DkimPublicKey[];
      /** Sign with the new keys at once instead of waiting for `verify` to see them. */
      readonly activateNow: boolean;
      readonly at: number;
    }
  | {
      readonly type: 'ActivateKeys';
      readonly generation: number;
      readonly reason: 'published' | 'forced';
      readonly at: number;
    }
  | { readonly type: 'RemoveRetiredKeys'; readonly graceMs: number; readonly at: number };

export type SendingDomainErrorCode =
  | 'DomainExists'
  | 'DomainNotFound'
  | 'RotationPending'
  | 'NoSuchGeneration'
  | 'SelectorInUse';

export class SendingDomainError extends Error {
  constructor(
    readonly code: SendingDomainErrorCode,
    message: string,
  ) {
    super(message);
    this.name = `SendingDomainError[${code}]`;
  }
}

type Added = Extract<SendingDomainState, { status: 'added' }>;

export const initialState: SendingDomainState = { status: 'absent' };

const added = (state: SendingDomainState, what: string): Added => {
  if (state.status !== 'added')
    throw new SendingDomainError('DomainNotFound', `no such sending domain (${what})`);
  return state;
};

export const activeGeneration = (state: SendingDomainState): KeyGeneration | undefined =>
  state.status === 'added' ? state.generations.find((g) => g.status === 'active') : undefined;

export const pendingGeneration = (state: SendingDomainState): KeyGeneration | undefined =>
  state.status === 'added' ? state.generations.find((g) => g.status === 'pending') : undefined;

const activate = (
  state: Added,
  generation: number,
  reason: 'added' | 'published' | 'forced',
  at: number,
): SendingDomainEvent[] => {
  const previous = activeGeneration(state);
  return [
    { type: 'DkimKeysActivated', data: { generation, at, reason } },
    ...(previous && previous.generation !== generation
      ? [{ type: 'DkimKeysRetired' as const, data: { generation: previous.generation, at } }]
      : []),
  ];
};

export const decide = (
  command: SendingDomainCommand,
  state: SendingDomainState,
): SendingDomainEvent[] => {
  switch (command.type) {
    case 'AddDomain': {
      if (state.status !== 'absent')
        throw new SendingDomainError(
          'DomainExists',
          `${command.domain} is already a sending domain`,
        );
      return [
        {
          type: 'DomainAdded',
          data: { domain: command.domain, credential: command.credential, addedAt: command.at },
        },
        {
          type: 'DkimKeysGenerated',
          data: { generation: 1, keys: [...command.keys], at: command.at },
        },
        { type: 'DkimKeysActivated', data: { generation: 1, at: command.at, reason: 'added' } },
      ];
    }
    case 'RotateKeys': {
      const domain = added(state, 'rotate');
      const pending = pendingGeneration(domain);
      if (pending)
        throw new SendingDomainError(
          'RotationPending',
          `generation ${pending.generation} of ${domain.domain} is still waiting for its DNS records`,
        );
      const used = new Set(domain.generations.flatMap((g) => g.keys.map((k) => k.selector)));
      const reused = command.keys.find((k) => used.has(k.selector));
      if (reused)
        throw new SendingDomainError(
          'SelectorInUse',
          `selector ${reused.selector} was used before`,
        );
      const generation = Math.max(0, ...domain.generations.map((g) => g.generation)) + 1;
      const generated: SendingDomainEvent = {
        type: 'DkimKeysGenerated',
        data: { generation, keys: [...command.keys], at: command.at },
      };
      return command.activateNow
        ? [generated, ...activate(domain, generation, 'forced', command.at)]
        : [generated];
    }
    case 'ActivateKeys': {
      const domain = added(state, 'activate');
      const target = domain.generations.find((g) => g.generation === command.generation);
      if (!target || target.status === 'removed' || target.status === 'retired')
        throw new SendingDomainError(
          'NoSuchGeneration',
          `${domain.domain} has no key generation ${command.generation} waiting to sign`,
        );
      if (target.status === 'active') return [];
      return activate(domain, command.generation, command.reason, command.at);
    }
    case 'RemoveRetiredKeys': {
      const domain = added(state, 'remove keys');
      return domain.generations
        .filter(
          (g) =>
            g.status === 'retired' &&
            g.retiredAt !== null &&
            g.retiredAt + command.graceMs <= command.at,
        )
        .map((g) => ({
          type: 'DkimKeysRemoved' as const,
          data: { generation: g.generation, at: command.at },
        }));
    }
  }
};

const withGeneration = (
  state: SendingDomainState,
  generation: number,
  change: (g: KeyGeneration) => KeyGeneration,
): SendingDomainState =>
  state.status === 'added'
    ? {
        ...state,
        generations: state.generations.map((g) => (g.generation === generation ? change(g) : g)),
      }
    : state;

export const evolve = (
  state: SendingDomainState,
  event: SendingDomainEvent,
): SendingDomainState => {
  switch (event.type) {
    case 'DomainAdded':
      return {
        status: 'added',
        domain: event.data.domain,
        credential: event.data.credential,
        addedAt: event.data.addedAt,
        generations: [],
      };
    case 'DkimKeysGenerated':
      return state.status === 'added'
        ? {
            ...state,
            generations: [
              ...state.generations,
              {
                generation: event.data.generation,
                keys: event.data.keys,
                status: 'pending',
                createdAt: event.data.at,
                activatedAt: null,
                retiredAt: null,
              },
            ],
          }
        : state;
    case 'DkimKeysActivated':
      return withGeneration(state, event.data.generation, (g) => ({
        ...g,
        status: 'active',
        activatedAt: event.data.at,
      }));
    case 'DkimKeysRetired':
      return withGeneration(state, event.data.generation, (g) => ({
        ...g,
        status: 'retired',
        retiredAt: event.data.at,
      }));
    case 'DkimKeysRemoved':
      return withGeneration(state, event.data.generation, (g) => ({ ...g, status: 'removed' }));
  }
};

export const sendingDomainDecider: Decider<
  SendingDomainCommand,
  SendingDomainEvent,
  SendingDomainState
> = { decide, evolve, initialState, schemas: SENDING_DOMAIN_EVENT_SCHEMAS };
