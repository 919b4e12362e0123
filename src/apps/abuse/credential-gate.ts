import {
  type AuthenticatedCredential,
  SubmissionDeferred,
  type SubmissionObjection,
  SubmissionRefused,
} from '../../adapters/smtp-in/submission-port.js';
import {
  type CapReached,
  type Counts,
  capReached,
  capsFor,
  describeCap,
  type MinuteVolume,
  recordVolume,
  type VolumeCaps,
} from '../../domain/volume-limit/volume-limit.js';
import type { CredentialRow } from '../../projections/credentials/credentials.js';

export interface CredentialGateDeps {
  /** `limits.credentials`: caps by credential name, `*` for all. */
  readonly caps: Readonly<Record<string, VolumeCaps>>;
  /** Whether (and why) the credential is paused; looked up per submission. */
  readonly pausedOf: (credentialId: string) => CredentialRow['paused'];
  /** What each credential submitted in the last day, from the volume projection. */
  readonly seed: ReadonlyMap<string, readonly MinuteVolume[]>;
  readonly now: () => number;
}

const at = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const overCap = (credential: AuthenticatedCredential, reached: CapReached, adding: Counts) =>
  reached.retryAt === null
    ? new SubmissionRefused(
        'OverVolumeCap',
        `This message has ${adding[reached.measure]} ${reached.measure}; credential ${credential.name} may send ${describeCap(reached)}`,
      )
    : new SubmissionDeferred(
        'VolumeLimitReached',
        `Credential ${credential.name} has reached its limit of ${describeCap(reached)}; try again after ${at(reached.retryAt)}`,
        reached.retryAt,
        reached.measure,
      );

/**
 * Whether a credential may submit now: not while paused, nor past its volume caps. The
 * counts live here, in the thread that accepts mail, so concurrent sessions cannot all slip
 * under a cap; they start from the volume projection, so a restart forgets nothing.
 */
export const createCredentialGate = (deps: CredentialGateDeps) => {
  const minutes = new Map<string, MinuteVolume[]>(
    [...deps.seed].map(([id, list]) => [id, [...list]]),
  );
  const capsByName = new Map<string, VolumeCaps | null>();
  const capsOf = (name: string): VolumeCaps | null => {
    if (!capsByName.has(name)) capsByName.set(name, capsFor(deps.caps, name));
    return capsByName.get(name) ?? null;
  };

  /** Why the credential may not submit this now, or null. */
  const objection = (
    credential: AuthenticatedCredential,
    adding: Counts,
  ): SubmissionObjection | null => {
    const paused = deps.pausedOf(credential.id);
    if (paused)
      return new SubmissionDeferred(
        'CredentialPaused',
        `Credential ${credential.name} is paused (${paused.reason}); an operator must resume it`,
        null,
      );
    const caps = capsOf(credential.name);
    if (!caps) return null;
    const reached = capReached(caps, minutes.get(credential.id) ?? [], adding, deps.now());
    return reached ? overCap(credential, reached, adding) : null;
  };

  const record = (credential: AuthenticatedCredential, adding: Counts) => {
    if (!capsOf(credential.name)) return;
    minutes.set(credential.id, recordVolume(minutes.get(credential.id) ?? [], adding, deps.now()));
  };

  return {
    objection,
    /**
     * Counts a submission about to be stored, or throws why it may not be; the function
     * returned takes the count back when the store fails.
     */
    reserve: (credential: AuthenticatedCredential, adding: Counts): (() => void) => {
      const refused = objection(credential, adding);
      if (refused) throw refused;
      record(credential, adding);
      return () =>
        record(credential, { messages: -adding.messages, recipients: -adding.recipients });
    },
  };
};

export type CredentialGate = ReturnType<typeof createCredentialGate>;
