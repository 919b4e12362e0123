import { accountingProjection } from './accounting/accounting.js';
import { credentialVolumeProjection } from './credential-volume/credential-volume.js';
import { credentialsProjection } from './credentials/credentials.js';
import { deliveryQueueProjection } from './delivery-queue/delivery-queue.js';
import { egressVolumeProjection } from './egress-volume/egress-volume.js';
import type { Projection } from './runner/projection.js';
import { sendingDomainsProjection } from './sending-domains/sending-domains.js';
import { suppressionsProjection } from './suppressions/suppressions.js';
import { webhookOutboxProjection } from './webhook-outbox/webhook-outbox.js';

/**
 * Every projection the relay keeps live (all on the delivery thread, one subscription for
 * all) and `projections rebuild` knows by name.
 */
export const PROJECTIONS: readonly Projection[] = [
  credentialsProjection,
  deliveryQueueProjection,
  accountingProjection,
  sendingDomainsProjection,
  egressVolumeProjection,
  suppressionsProjection,
  credentialVolumeProjection,
  webhookOutboxProjection,
];

export const findProjection = (name: string): Projection | undefined =>
  PROJECTIONS.find((p) => p.name === name);
