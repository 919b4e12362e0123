/**
 * Why the listener refused or cut short a client for a limit: the label of the
 * `mailtrail_smtp_limit_total` counter and of the log line each one gets.
 */
export type LimitReason =
  | 'connections-total'
  | 'connections-per-address'
  | 'banned-address'
  | 'idle-timeout'
  | 'command-deadline'
  | 'data-deadline'
  | 'session-deadline'
  | 'pipelining'
  | 'command-length'
  | 'line-length'
  | 'message-size'
  | 'header-size'
  | 'recipients'
  | 'error-limit';

export type OnLimit = (reason: LimitReason, address: string) => void;
