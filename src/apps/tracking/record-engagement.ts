import { randomUUID } from 'node:crypto';
import { handleCommand, loadState } from '../../domain/command-handling/handle-command.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { messageDecider } from '../../domain/message/decider.js';
import { messageStream } from '../../domain/message/events.js';
import { machineKind } from '../../domain/tracking/machine-opens.js';
import {
  type LinkLocation,
  parseClickToken,
  parseOpenToken,
} from '../../domain/tracking/tracking-links.js';
import type { VerpTarget } from '../../domain/verp/verp.js';

export interface EngagementDeps {
  readonly store: EventStore;
  readonly key: Uint8Array;
  readonly now: () => number;
}

export interface EngagementRequest {
  readonly userAgent: string | null;
  readonly ip: string | null;
  readonly method: string;
}

const record = async (
  deps: EngagementDeps,
  target: VerpTarget,
  request: EngagementRequest,
  link: { readonly url: string; readonly location: LinkLocation } | null,
): Promise<boolean> => {
  const stream = messageStream(target.messageId);
  const { state } = await loadState(deps.store, stream, messageDecider);
  if (state.status !== 'accepted') return false;
  const recipient = state.accepted.envelope.to[target.recipientIndex]?.address;
  if (!recipient) return false;
  await handleCommand(
    deps.store,
    stream,
    messageDecider,
    {
      type: 'RecordEngagement',
      recipient,
      at: deps.now(),
      userAgent: request.userAgent,
      ip: request.ip,
      machine: machineKind({ ...request, fetched: link === null ? 'pixel' : 'link' }),
      link,
    },
    { newEventId: () => randomUUID(), retries: 3 },
  );
  return true;
};

/** Records an open for a pixel token; false when the token is not one we issued. */
export const recordOpen = async (
  deps: EngagementDeps,
  token: string,
  request: EngagementRequest,
): Promise<boolean> => {
  const target = parseOpenToken(deps.key, token);
  return target ? record(deps, target, request, null) : false;
};

/**
 * Records a click and gives the URL to send the reader to; null when the token is not ours
 * (then nobody is redirected anywhere: no open redirect).
 */
export const recordClick = async (
  deps: EngagementDeps,
  token: string,
  request: EngagementRequest,
): Promise<string | null> => {
  const parsed = parseClickToken(deps.key, token);
  // Only a URL a browser can be sent to is recorded and followed, in its ASCII form: the
  // link as written may hold bytes a Location header cannot (`https://shop.test/straße`).
  if (!parsed || !URL.canParse(parsed.url)) return null;
  const { target, url, location } = parsed;
  return (await record(deps, target, request, { url, location })) ? new URL(url).href : null;
};
