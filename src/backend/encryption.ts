import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { PixstoreError } from '../shared/errors.js'
import { IV_LENGTH, KEY_LENGTH } from '../shared/wire.js'

/** One encrypted image version: ciphertext of `[format byte][image bytes]` and its meta. */
export interface EncryptedImage {
  ciphertext: Buffer
  key: Buffer
  iv: Buffer
  tag: Buffer
}

/**
 * Encrypts `[formatByte][image]` under a fresh random 256-bit key and 96-bit IV
 * (AES-256-GCM, 128-bit tag).
 */
export function encryptImage(formatByte: number, image: Uint8Array): EncryptedImage {
  const key = randomBytes(KEY_LENGTH)
  const iv = randomBytes(IV_LENGTH)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const ciphertext = Buffer.concat([cipher.update(Uint8Array.of(formatByte)), cipher.update(image), cipher.final()])
  return { ciphertext, key, iv, tag: cipher.getAuthTag() }
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
