import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { PixstoreError } from '../shared/errors.js'
import { IV_LENGTH, KEY_LENGTH } from '../shared/wire.js'

/** One encrypted image version: ciphertext of `[format byte][image bytes]` and its meta. */
export interface EncryptedImage {
  /** The ciphertext in order, in parts of at most `partBytes` (the first is the format byte's). */
  parts: Buffer[]
  key: Buffer
  iv: Buffer
  tag: Buffer
}

/** The part size `encryptImage` is given for images kept as blobs. */
export const ENCRYPTION_PART_BYTES = 256 * 1024

/**
 * Encrypts `[formatByte][image]` under a fresh random 256-bit key and 96-bit IV
 * (AES-256-GCM, 128-bit tag). The ciphertext comes in parts: a large image encrypted in
 * parts of a few hundred KiB runs several times faster than whole, because its output is
 * not one large new allocation (whose pages the kernel must first map).
 */
export function encryptImage(formatByte: number, image: Uint8Array, partBytes = Infinity): EncryptedImage {
  const key = randomBytes(KEY_LENGTH)
  const iv = randomBytes(IV_LENGTH)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const parts = [cipher.update(Uint8Array.of(formatByte))]
  for (let at = 0; at < image.byteLength; at += partBytes) parts.push(cipher.update(image.subarray(at, at + partBytes)))
  cipher.final()
  return { parts, key, iv, tag: cipher.getAuthTag() }
}

/**
 * Decrypts one stored image version to `[format byte][image bytes]`.
 *
 * @throws PixstoreError `DECRYPT_FAILED`, with one message whatever part failed.
 */
export function decryptImage(ciphertext: Uint8Array, key: Uint8Array, iv: Uint8Array, tag: Uint8Array): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv)
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(ciphertext), decipher.final()])
  } catch (cause) {
    throw new PixstoreError('DECRYPT_FAILED', 'The image could not be decrypted', { cause })
  }
}
