import { PixstoreError } from '../shared/errors.js'
import { mimeTypeOf, type FormatTable } from '../shared/image-format.js'
import { TAG_LENGTH } from '../shared/wire.js'

/** Key, IV and tag of one image version, as bytes. */
export interface DecryptionMeta {
  key: Uint8Array
  iv: Uint8Array
  tag: Uint8Array
}

// One message whatever failed (key, IV, tag or ciphertext): no oracle for an attacker.
const failed = (cause?: unknown) => new PixstoreError('DECRYPT_FAILED', 'The image could not be decrypted', { cause })

/**
 * Decrypts a ciphertext of `[format byte][image bytes]` in memory with WebCrypto and
 * returns the image as a `Blob` of the MIME type `formats` gives its format byte.
 *
 * @throws PixstoreError `DECRYPT_FAILED`
 */
export async function decryptToBlob(ciphertext: Uint8Array, meta: DecryptionMeta, formats: FormatTable): Promise<Blob> {
  // WebCrypto wants the tag appended to the ciphertext.
  const sealed = new Uint8Array(ciphertext.length + TAG_LENGTH)
  sealed.set(ciphertext)
  sealed.set(meta.tag, ciphertext.length)
  let plain: ArrayBuffer
  try {
    const key = await crypto.subtle.importKey('raw', meta.key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['decrypt'])
    plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: meta.iv as Uint8Array<ArrayBuffer>, tagLength: 128 }, key, sealed)
  } catch (cause) {
    throw failed(cause)
  }
  const bytes = new Uint8Array(plain)
  const format = bytes.length > 1 ? formats.fromByte(bytes[0]!) : undefined
  if (!format) throw failed()
  return new Blob([bytes.subarray(1)], { type: mimeTypeOf(format) })
}
