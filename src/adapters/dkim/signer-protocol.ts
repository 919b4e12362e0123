import type { SignedHeaders, SigningKey } from './dkim-signer.js';

/** One message to sign, as it crosses to the signer thread (KeyObjects cross as handles). */
export interface SignRequest {
  readonly message: Uint8Array;
  readonly keys: readonly SigningKey[];
  /** t=, epoch ms. */
  readonly at: number;
}

export type SignResult = SignedHeaders;
