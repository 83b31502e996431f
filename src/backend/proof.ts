import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'

/** Mints and checks stateless proofs: HMAC-SHA256 over the image id and a time window. */
export interface ProofSigner {
  /** A proof for `id`, valid for one to two windows from `now`. */
  sign(id: string, now?: number): string
  /** Whether `proof` is a current proof for `id` under any configured secret. */
  verify(id: string, proof: string, now?: number): boolean
}

const PROOF_LENGTH = 43 // base64url of 32 bytes, unpadded

/**
 * Creates a signer. The first secret signs; every secret verifies, so a rotated-out
 * secret can stay listed after the new one until its proofs have expired.
 * `windowLength` -1 gives proofs that never expire.
 */
export function createProofSigner(secrets: readonly string[], windowLength: number): ProofSigner {
  const keys: KeyObject[] = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')))
  const windowOf = (now: number) => (windowLength === -1 ? 'never' : String(Math.floor(now / windowLength)))
  const mac = (key: KeyObject, window: string, id: string) => createHmac('sha256', key).update(`pixstore-proof:${window}:${id}`).digest()

  return {
    sign(id, now = Date.now()) {
      return mac(keys[0]!, windowOf(now), id).toString('base64url')
    },
    verify(id, proof, now = Date.now()) {
      if (typeof proof !== 'string' || proof.length !== PROOF_LENGTH) return false
      const given = Buffer.from(proof, 'base64url')
      // Only the canonical spelling: the last character's two spare bits must be zero.
      if (given.length !== 32 || given.toString('base64url') !== proof) return false
      // A proof minted in window n is accepted in windows n and n + 1: valid for at least
      // one window length and at most two.
      const windows = windowLength === -1 ? ['never'] : [windowOf(now), windowOf(now - windowLength)]
      let valid = false
      for (const key of keys) {
        for (const window of windows) {
          // No early exit: the time taken does not tell which secret or window matched.
          if (timingSafeEqual(mac(key, window, id), given)) valid = true
        }
      }
      return valid
    },
  }
}
