/**
 * The hostile side of bench/abuse.ts, in its own process so that its TLS handshakes and
 * event loop do not stand in the timing of the good client: 100 sessions of a capped
 * credential sending MAIL after MAIL past its cap, and 100 sessions brute-forcing AUTH
 * from 20 addresses, reconnecting when cut off or banned. Run as a child:
 * `abuse-attackers.ts PORT USERNAME PASSWORD`; SIGTERM stops it and it prints its counts.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { authenticatedSmtp, type RawSmtp } from '../../test/support/smtp-client.js';

const CAPPED_SESSIONS = 100;
const BRUTE_SESSIONS = 100;
const BRUTE_ADDRESSES = 20;
export const HOSTILE_SESSIONS = CAPPED_SESSIONS + BRUTE_SESSIONS;

interface Credential {
  readonly username: string;
  readonly password: string;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

export interface AttackCounts {
  capped451: number;
  capped250: number;
  /** Cut off after too many refusals in one session (smtp.errorLimits). */
  capped421: number;
  cappedAuthRefused: number;
  auth535: number;
  connect421: number;
  auth421: number;
  auth454: number;
}

/** The hostile sessions, until `stop` resolves. */
const attack = (port: number, capped: Credential, stop: Promise<void>) => {
  const counts: AttackCounts = {
    capped451: 0,
    capped250: 0,
    capped421: 0,
    cappedAuthRefused: 0,
    auth535: 0,
    connect421: 0,
    auth421: 0,
    auth454: 0,
  };
  let stopping = false;
  void stop.then(() => {
    stopping = true;
  });
  /** Past its cap: MAIL after MAIL, reconnecting whenever it is cut off (error limit). */
  const cappedSession = async (n: number) => {
    const from = `127.0.0.${100 + (n % 5)}`;
    while (!stopping) {
      const { client, auth } = await authenticatedSmtp(
        port,
        capped.username,
        capped.password,
        from,
      );
      if (!auth.startsWith('235')) {
        counts.cappedAuthRefused++;
        client.socket().destroy();
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      while (!stopping) {
        const reply = await client.command(`MAIL FROM:<${capped.username}>\r\n`);
        if (reply.startsWith('451')) counts.capped451++;
        else if (reply.startsWith('250')) {
          // Under its cap still: a whole message, which counts toward the cap.
          counts.capped250++;
          await client.command('RCPT TO:<flood@receiver.test>\r\n');
          await client.command('DATA\r\n');
          await client.command(`From: <${capped.username}>\r\nSubject: flood\r\n\r\nx\r\n.\r\n`);
        } else {
          if (reply.startsWith('421')) counts.capped421++;
          break;
        }
      }
      client.socket().destroy();
    }
  };
  const bruteSession = async (n: number) => {
    const from = `127.0.0.${150 + (n % BRUTE_ADDRESSES)}`;
    while (!stopping) {
      let session: { client: RawSmtp; auth: string };
      try {
        session = await authenticatedSmtp(port, `victim${n % 3}@sender.test`, `guess-${n}`, from);
      } catch {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const { client } = session;
      let reply = session.auth;
      for (;;) {
        if (reply.startsWith('421 4.7.0 Too many failed logins')) counts.connect421++;
        else if (reply.startsWith('421')) counts.auth421++;
        else if (reply.startsWith('454')) counts.auth454++;
        else if (reply.startsWith('535')) counts.auth535++;
        if (!reply.startsWith('535') || stopping) break;
        const token = Buffer.from(`\0victim${n % 3}@sender.test\0guess-${n}-${Math.random()}`);
        reply = await client.command(`AUTH PLAIN ${token.toString('base64')}\r\n`);
      }
      client.socket().destroy();
      // A banned client comes straight back; a short pause keeps the bench from measuring
      // only the kernel's connect path.
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const all = Promise.allSettled([
    ...Array.from({ length: CAPPED_SESSIONS }, (_, n) => cappedSession(n)),
    ...Array.from({ length: BRUTE_SESSIONS }, (_, n) => bruteSession(n)),
  ]).then((settled) => {
    const failed = settled.filter((s) => s.status === 'rejected');
    if (failed.length > 0)
      log(
        `  ${failed.length} hostile sessions failed: ${String((failed[0] as PromiseRejectedResult).reason)}`,
      );
  });
  return { counts, done: all };
};

/** Starts the attackers as a child process; `stop` ends them and yields their counts. */
export const startAttackers = (port: number, capped: Credential, stop: Promise<void>) => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      String(port),
      capped.username,
      capped.password,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  void stop.then(() => child.kill('SIGTERM'));
  const done = new Promise<AttackCounts>((resolve, reject) =>
    child.once('exit', () => {
      try {
        resolve(JSON.parse(out) as AttackCounts);
      } catch {
        reject(new Error(`the attackers printed no counts: ${out.slice(0, 200)}`));
      }
    }),
  );
  return { done };
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [port, username, password] = process.argv.slice(2);
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const { counts, done } = attack(
    Number(port),
    { username: username ?? '', password: password ?? '' },
    stopped,
  );
  process.once('SIGTERM', () => {
    stop();
    void done.then(() => {
      process.stdout.write(JSON.stringify(counts));
      process.exit(0);
    });
  });
}
