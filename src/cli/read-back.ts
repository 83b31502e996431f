import { decodePayload, PayloadState } from '../shared/wire.js'
import { decryptImage } from '../backend/encryption.js'
import type { PixstoreBackend } from '../backend/pixstore-backend.js'

/**
 * The image `id` as a client would get it from `backend`: through the image route's
 * answer, decrypted with the key it carries, without the format byte; `undefined` if the
 * image is missing or does not decrypt.
 */
export async function readBack(backend: PixstoreBackend, id: string): Promise<Buffer | undefined> {
  const record = await backend.getImageRecordAsync(id)
  if (!record) return undefined
  const payload = decodePayload(await backend.customEndpointHelper(id, undefined, record.statelessProof))
  if (payload.state !== PayloadState.Updated) return undefined
  try {
    return decryptImage(payload.ciphertext, payload.key, payload.iv, payload.tag).subarray(1)
  } catch {
    return undefined
  }
}
