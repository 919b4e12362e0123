/**
 * End-of-data look-alikes from the SMTP smuggling research (the union of hannob/smtpsmug
 * and SEC Consult's scanner, reference §3.1). Receivers that took any of these as the end
 * of DATA could be fed a second, forged message.
 */
export const SMUGGLING_SEQUENCES = [
  '\n.\n',
  '\n.\r',
  '\r.\n',
  '\r.\r',
  '\n.\r\n',
  '\r.\r\n',
  '\r\n.\n',
  '\r\n.\r',
  '\r\n.\r\r\n',
  '\r\r\n.\r\r\n',
  '\r\n\x00.\r\n',
  '\r\n.\x00\r\n',
] as const;
