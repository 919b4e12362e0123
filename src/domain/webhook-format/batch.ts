import type { Notification } from '../webhook/notification.js';
import type { WebhookFormat } from './webhook-format.js';

/**
 * The notifications a format may render: never more than its batch size, and only kinds it
 * has an event for. The outbox never asks otherwise, so breaking this is a bug to surface,
 * not a payload to guess at.
 */
export const checkBatch = (
  format: Pick<WebhookFormat, 'name' | 'kinds' | 'batchSize'>,
  notifications: readonly Notification[],
): readonly Notification[] => {
  if (notifications.length === 0 || notifications.length > format.batchSize)
    throw new RangeError(
      `${format.name} renders 1 to ${format.batchSize} notifications, not ${notifications.length}`,
    );
  for (const { kind } of notifications)
    if (!format.kinds.has(kind)) throw new RangeError(`${format.name} has no ${kind} event`);
  return notifications;
};

/** The one notification of a one-event-per-request format. */
export const soleNotification = (
  format: Pick<WebhookFormat, 'name' | 'kinds' | 'batchSize'>,
  notifications: readonly Notification[],
): Notification => checkBatch(format, notifications)[0] as Notification;
