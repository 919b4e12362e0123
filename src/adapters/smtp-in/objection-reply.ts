import { type SmtpRejection, smtpError } from './smtp-error.js';
import { SubmissionDeferred, type SubmissionObjection } from './submission-port.js';

/**
 * The SMTP reply for what the application objects to, at the stage it objects: a deferral
 * is 451 4.7.1 (452 at RCPT, RFC 5321's "too many recipients" class, so the client keeps
 * the recipients it got and sends the rest later); a refusal is final.
 */
export const objectionReply = (
  objection: SubmissionObjection,
  stage: 'mail' | 'rcpt' | 'data',
): SmtpRejection => {
  if (objection instanceof SubmissionDeferred)
    return smtpError(stage === 'rcpt' ? 452 : 451, '4.7.1', objection.message);
  switch (objection.code) {
    case 'UnknownPool':
      return smtpError(550, '5.5.4', objection.message);
    case 'HeaderTooLarge':
      return smtpError(552, '5.3.4', objection.message);
    case 'OverVolumeCap':
      // More recipients than the cap allows at all: at RCPT the client keeps those it got.
      return stage === 'rcpt'
        ? smtpError(452, '4.5.3', objection.message)
        : smtpError(550, '5.7.1', objection.message);
    default:
      return smtpError(550, '5.7.1', objection.message);
  }
};
