import { randomUUID } from 'node:crypto';
import { handleCommand, loadState } from '../../domain/command-handling/handle-command.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { messageDecider } from '../../domain/message/decider.js';
import { messageStream } from '../../domain/message/events.js';
import { readable } from '../../domain/message-body/headers.js';
import { parseTargetToken } from '../../domain/verp/verp.js';

export type UnsubscribeLookup =
  | {
      readonly ok: true;
      readonly messageId: string;
      readonly recipient: string;
      readonly sender: string | null;
    }
  | { readonly ok: false };

/** Who an unsubscribe token names: the message, its recipient and its From: (for the page). */
export const lookUpUnsubscribe = async (
  deps: { readonly store: EventStore; readonly key: Uint8Array },
  token: string,
): Promise<UnsubscribeLookup> => {
  const parsed = parseTargetToken(deps.key, token);
  if (!parsed.ok) return { ok: false };
  const { state } = await loadState(
    deps.store,
    messageStream(parsed.target.messageId),
    messageDecider,
  );
  if (state.status !== 'accepted') return { ok: false };
  const recipient = state.accepted.envelope.to[parsed.target.recipientIndex]?.address;
  return recipient
    ? {
        ok: true,
        messageId: parsed.target.messageId,
        recipient,
        sender: readable(state.accepted.headers.from),
      }
    : { ok: false };
};

/** Appends Unsubscribed for the token's recipient (once); false when the token is not ours. */
export const recordUnsubscribe = async (
  deps: { readonly store: EventStore; readonly key: Uint8Array; readonly now: () => number },
  token: string,
  method: 'one-click' | 'mailto',
): Promise<boolean> => {
  const found = await lookUpUnsubscribe(deps, token);
  if (!found.ok) return false;
  await handleCommand(
    deps.store,
    messageStream(found.messageId),
    messageDecider,
    { type: 'RecordUnsubscribe', at: deps.now(), recipient: found.recipient, method },
    { newEventId: () => randomUUID(), retries: 3 },
  );
  return true;
};
