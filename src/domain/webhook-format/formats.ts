import { mailgunFormat } from './mailgun.js';
import { nativeFormat } from './native.js';
import { postmarkFormat } from './postmark.js';
import { sendgridFormat } from './sendgrid.js';
import type { WebhookFormat, WebhookFormatName } from './webhook-format.js';

export const WEBHOOK_FORMATS: Readonly<Record<WebhookFormatName, WebhookFormat>> = {
  mailgun: mailgunFormat,
  sendgrid: sendgridFormat,
  postmark: postmarkFormat,
  native: nativeFormat,
};

export const webhookFormat = (name: WebhookFormatName): WebhookFormat => WEBHOOK_FORMATS[name];
