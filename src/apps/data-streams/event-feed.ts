import { domainOf } from '../../domain/address/address.js';
import type { EventStore, RecordedEvent } from '../../domain/event-store/event-store.js';
import {
  MESSAGE_STREAM_PREFIX,
  type MessageAccepted,
  messageStream,
  parseMessageEvent,
} from '../../domain/message/events.js';

/** Which events a consumer wants; every field narrows, none set means all. */
export interface FeedFilter {
  readonly types?: readonly string[];
  /** A credential id: only its mail. */
  readonly credentialId?: string;
  /** Mail from this sender domain, or to a recipient at it. */
  readonly domain?: string;
  readonly tag?: string;
}

/** One line of the event stream: schema `mailtrail.event/1` (docs/streams.md). */
export interface FeedItem {
  readonly schema: 'mailtrail.event/1';
  /** The global position, decimal: resume after it. */
  readonly position: string;
  readonly stream: string;
  readonly messageId: string;
  readonly type: string;
  readonly recordedAt: string;
  readonly credential: { readonly id: string; readonly name: string } | null;
  readonly tags: readonly string[];
  readonly data: unknown;
}

interface MessageContext {
  readonly credential: { readonly id: string; readonly name: string } | null;
  readonly senderDomain: string | null;
  readonly tags: readonly string[];
}

const contextOf = (accepted: MessageAccepted['data']): MessageContext => ({
  credential: accepted.credential,
  senderDomain: accepted.envelope.from ? domainOf(accepted.envelope.from) : null,
  tags: accepted.tags,
});

const recipientOf = (data: unknown): string | null => {
  const recipient = (data as { recipient?: unknown }).recipient;
  return typeof recipient === 'string' ? recipient : null;
};

/**
 * The message events from a position on, history then live, filtered, each with its
 * message's credential and tags. Pull-based: the next event is read only when the consumer
 * asks for it, so a slow consumer holds the read, not a growing buffer. A message's context
 * comes from its MessageAccepted (its first event), remembered for recent messages and read
 * from the message's stream otherwise.
 */
export async function* eventFeed(
  store: EventStore,
  options: { readonly after: bigint; readonly filter: FeedFilter; readonly signal: AbortSignal },
): AsyncIterable<FeedItem> {
  const contexts = new Map<string, MessageContext | null>();
  const contextFor = async (
    messageId: string,
    event: RecordedEvent,
  ): Promise<MessageContext | null> => {
    if (event.type === 'MessageAccepted') {
      const accepted = parseMessageEvent(event.type, event.data) as MessageAccepted;
      return contextOf(accepted.data);
    }
    const known = contexts.get(messageId);
    if (known !== undefined) return known;
    for await (const first of store.readStream(messageStream(messageId), { maxCount: 1 })) {
      if (first.type !== 'MessageAccepted') break;
      return contextOf((parseMessageEvent(first.type, first.data) as MessageAccepted).data);
    }
    return null;
  };
  const { filter } = options;
  for await (const item of store.subscribeToAll({
    after: options.after,
    filter: {
      streamPrefixes: [MESSAGE_STREAM_PREFIX],
      ...(filter.types?.length ? { eventTypes: [...filter.types] } : {}),
    },
    signal: options.signal,
  })) {
    if (item.kind !== 'event') continue;
    const event = item.event;
    const messageId = event.streamName.slice(MESSAGE_STREAM_PREFIX.length);
    const context = await contextFor(messageId, event);
    if (contexts.size >= 50_000) contexts.clear();
    contexts.set(messageId, context);
    if (filter.credentialId !== undefined && context?.credential?.id !== filter.credentialId)
      continue;
    if (filter.tag !== undefined && !context?.tags.includes(filter.tag)) continue;
    if (filter.domain !== undefined) {
      const recipient = recipientOf(event.data);
      const recipients =
        event.type === 'MessageAccepted'
          ? (event.data as MessageAccepted['data']).envelope.to.map((r) => r.address)
          : recipient
            ? [recipient]
            : [];
      const domains = [context?.senderDomain, ...recipients.map(domainOf)];
      if (!domains.includes(filter.domain.toLowerCase())) continue;
    }
    yield {
      schema: 'mailtrail.event/1',
      position: event.position.toString(),
      stream: event.streamName,
      messageId,
      type: event.type,
      recordedAt: event.recordedAt.toISOString(),
      credential: context?.credential ?? null,
      tags: context?.tags ?? [],
      data: event.data,
    };
  }
}
