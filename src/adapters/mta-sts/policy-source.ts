import { type RequestOptions, request } from 'node:https';
import type { SecureContext } from 'node:tls';
import { parsePolicy } from 'mailauth/lib/mta-sts.js';
import { isInvalid } from 'mx-connect/lib/tools.js';
import { z } from 'zod';
import {
  MtaStsPolicyFetchedSchema,
  policyIdFromTxt,
  type TxtAnswer,
} from '../../domain/mta-sts/policy.js';
import { orNone } from '../dns/resolver.js';
import type { ResolveRecords } from '../smtp-out/dns-resolver.js';

/** A policy as its host serves it, before it is dated and cached (RFC 8461 §3.2). */
const FetchedPolicySchema = MtaStsPolicyFetchedSchema.pick({ mode: true, maxAgeSeconds: true })
  .extend({ mx: z.array(z.string().min(1).toLowerCase()) })
  .refine((p) => p.mode === 'none' || p.mx.length > 0, 'a policy in force names its MX hosts');
export type FetchedPolicy = z.infer<typeof FetchedPolicySchema>;

export interface PolicySource {
  /** The `_mta-sts.<domain>` TXT record's id. */
  txt(domain: string): Promise<TxtAnswer>;
  /** `https://mta-sts.<domain>/.well-known/mta-sts.txt`, parsed; throws when unusable. */
  fetch(domain: string, signal?: AbortSignal): Promise<FetchedPolicy>;
}

export interface PolicySourceOptions {
  readonly resolveRecords: ResolveRecords;
  /** With `delivery.caFiles`, Node's CAs and those; without, Node's own. */
  readonly secureContext?: SecureContext | undefined;
  /** Refuse a policy host on loopback or a private network, as for MX hosts. */
  readonly blockLocalAddresses: boolean;
  readonly timeoutMs: number;
}

/** A policy is a few lines: anything much bigger is not one. */
const MAX_POLICY_BYTES = 64 * 1024;

const policyError = (message: string): Error =>
  Object.assign(new Error(message), { code: 'EMTASTS' });

/**
 * Looks up and fetches MTA-STS policies the way RFC 8461 §3.3 asks: HTTPS with a
 * certificate valid for `mta-sts.<domain>`, no redirects, 200 and text/plain only. The
 * policy host is resolved through the relay's own resolvers and checked like an MX host,
 * so a domain cannot point the fetch at the relay's own network.
 */
export const createPolicySource = (options: PolicySourceOptions): PolicySource => ({
  txt: async (domain) => {
    try {
      const records = (await orNone(options.resolveRecords(`_mta-sts.${domain}`, 'TXT'))) as
        | string[][]
        | string[];
      const id = policyIdFromTxt(records.map((r) => (Array.isArray(r) ? r.join('') : String(r))));
      return id ? { kind: 'id', id } : { kind: 'none' };
    } catch {
      return { kind: 'failed' };
    }
  },

  fetch: async (domain, signal) => {
    const host = `mta-sts.${domain}`;
    const addresses = [
      ...((await orNone(options.resolveRecords(host, 'A'))) as string[]),
      ...((await orNone(options.resolveRecords(host, 'AAAA'))) as string[]),
    ];
    const address = addresses.find(
      (ip) => !isInvalid({ dnsOptions: { blockLocalAddresses: options.blockLocalAddresses } }, ip),
    );
    if (!address)
      throw policyError(
        addresses.length ? `${host} has no address we may connect to` : `${host} has no address`,
      );
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: address,
          port: 443,
          path: '/.well-known/mta-sts.txt',
          servername: host,
          headers: { host },
          ...(options.secureContext ? { secureContext: options.secureContext } : {}),
          rejectUnauthorized: true,
          timeout: options.timeoutMs,
          agent: false,
          ...(signal ? { signal } : {}),
          // tls.connect takes a ready context; https's types only list what builds one.
        } as RequestOptions,
        (res) => {
          const type = String(res.headers['content-type'] ?? '');
          if (res.statusCode !== 200 || !/^text\/plain\s*(;|$)/i.test(type)) {
            res.resume();
            return reject(
              policyError(`https://${host}/.well-known/mta-sts.txt: ${res.statusCode} ${type}`),
            );
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_POLICY_BYTES) {
              req.destroy(policyError(`the policy at ${host} is over ${MAX_POLICY_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
        },
      );
      // `timeout` is for a silent socket; this is for one that trickles.
      const deadline = setTimeout(
        () => req.destroy(policyError(`${host} did not send the policy in time`)),
        options.timeoutMs,
      );
      req.on('timeout', () => req.destroy(policyError(`${host} did not answer in time`)));
      req.on('error', reject);
      req.on('close', () => clearTimeout(deadline));
      req.end();
    });
    const parsed = parsePolicy(text);
    const policy = FetchedPolicySchema.safeParse({
      mode: parsed.mode,
      mx: parsed.mx ?? [],
      maxAgeSeconds: parsed.maxAge,
    });
    if (!policy.success)
      throw policyError(`the policy at ${host} is not valid: ${policy.error.issues[0]?.message}`);
    return policy.data;
  },
});
