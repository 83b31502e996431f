import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import { createBoundedCache } from './bounded-cache.js'

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
  // Proofs are the same for every record of an id within a window, and a page asks for the
  // same images again and again: both minting and checking are remembered for a while.
  const minted = createBoundedCache<string>(20_000)
  const accepted = createBoundedCache<{ id: string; windows: string[] }>(20_000)

  return {
    sign(id, now = Date.now()) {
      const window = windowOf(now)
      const key = `${window}:${id}`
      return minted.get(key) ?? minted.set(key, mac(keys[0]!, window, id).toString('base64url'))
    },
    verify(id, proof, now = Date.now()) {
      if (typeof proof !== 'string' || proof.length !== PROOF_LENGTH) return false
      const current = windowOf(now)
      // Only a proof that verified before is remembered, so a lookup reveals nothing about the secret.
      const known = accepted.get(proof)
      if (known) return known.id === id && known.windows.includes(current)
      const given = Buffer.from(proof, 'base64url')
      // Only the canonical spelling: the last character's two spare bits must be zero.
      if (given.length !== 32 || given.toString('base64url') !== proof) return false
      // A proof minted in window n is accepted in windows n and n + 1: valid for at least
      // one window length and at most two.
      const windows = windowLength === -1 ? ['never'] : [current, windowOf(now - windowLength)]
      let minted: string | undefined
      for (const key of keys) {
        for (const window of windows) {
          // No early exit: the time taken does not tell which secret or window matched.
          if (timingSafeEqual(mac(key, window, id), given)) minted = window
        }
      }
      if (minted === undefined) return false
      // Valid in the window it was minted in and the next one.
      const validIn = windowLength === -1 ? ['never'] : [minted, String(Number(minted) + 1)]
      accepted.set(proof, { id, windows: validIn })
      return true
    },
  }
}
