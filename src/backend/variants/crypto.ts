import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import { PixstoreError } from '../../shared/errors.js'
import { DERIVED_LENGTH, PLACEHOLDER_KEY_INFO, VARIANT_SALT_LENGTH, variantKeyInfo, variantName, type ImageVariant } from '../../shared/variants.js'
import { KEY_LENGTH, TAG_LENGTH } from '../../shared/wire.js'
import type { StoredImage } from '../stores/metadata-store.js'

/** A new random salt for a variant (or a placeholder), standard base64. */
export const newSalt = (): string => randomBytes(VARIANT_SALT_LENGTH).toString('base64')

// Key and IV of one variant (or of the placeholder), derived from its version's data key.
function derive(dataKey: Uint8Array, salt: string, info: string): { key: Buffer; iv: Buffer } {
  const material = Buffer.from(hkdfSync('sha256', dataKey, Buffer.from(salt, 'base64'), info, DERIVED_LENGTH))
  return { key: material.subarray(0, KEY_LENGTH), iv: material.subarray(KEY_LENGTH) }
}

function seal(dataKey: Uint8Array, salt: string, info: string, plain: Uint8Array): Buffer {
  const { key, iv } = derive(dataKey, salt, info)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
}

function open(dataKey: Uint8Array, salt: string, info: string, sealed: Uint8Array): Buffer {
  try {
    const { key, iv } = derive(dataKey, salt, info)
    const decipher = createDecipheriv('aes-256-gcm', key, iv)
    decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_LENGTH))
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.byteLength - TAG_LENGTH)), decipher.final()])
  } catch (cause) {
    throw new PixstoreError('DECRYPT_FAILED', 'The image could not be decrypted', { cause })
  }
}

/**
 * Encrypts a variant's image under its derived key: the stored ciphertext is the image's
 * bytes (no format byte: the record names the format) followed by the 16-byte GCM tag.
 */
export const encryptVariant = (dataKey: Uint8Array, variant: ImageVariant, image: Uint8Array): Buffer =>
  seal(dataKey, variant.salt, variantKeyInfo(variant), image)

/** Decrypts a variant's stored ciphertext. @throws PixstoreError `DECRYPT_FAILED` */
export const decryptVariant = (dataKey: Uint8Array, variant: ImageVariant, sealed: Uint8Array): Buffer =>
  open(dataKey, variant.salt, variantKeyInfo(variant), sealed)

/**
 * Seals a placeholder for the metadata store: images are never at rest in the clear, even
 * blurred. The result is `<salt>.<sealed>`, both standard base64.
 */
export function sealPlaceholder(dataKey: Uint8Array, placeholder: Uint8Array): string {
  const salt = newSalt()
  return `${salt}.${seal(dataKey, salt, PLACEHOLDER_KEY_INFO, placeholder).toString('base64')}`
}

/** The placeholder a version's metadata holds, as the record's base64. @throws PixstoreError `DECRYPT_FAILED` */
export function openPlaceholder(dataKey: Uint8Array, stored: string): string {
  const [salt = '', sealed = ''] = stored.split('.')
  return open(dataKey, salt, PLACEHOLDER_KEY_INFO, Buffer.from(sealed, 'base64')).toString('base64')
}

/**
 * The blob key of a variant: derived from its version's blob key, its name and its salt, so
 * that rows need not list it, `gc` tells every variant of a live version from an orphan, and a
 * variant made again (a new salt) never writes over one made before.
 */
export const variantBlobKey = (blobKey: string, variant: { width: number; format: string; salt: string }): string =>
  createHash('sha256').update(`${blobKey}/${variantName(variant)}/${variant.salt}`).digest('hex').slice(0, 32)

/** The sealed blobs of made variants of the version `blobKey` names, ready to write. */
export const variantBlobs = (blobKey: string, dataKey: Uint8Array, made: readonly { variant: ImageVariant; image: Uint8Array }[]) =>
  made.map(({ variant, image }) => ({ key: variantBlobKey(blobKey, variant), bytes: encryptVariant(dataKey, variant, image) }))

/** Every blob key a stored version uses: its own, then its variants'. */
export const blobKeysOf = (image: Pick<StoredImage, 'blobKey' | 'variants'>): string[] => [
  image.blobKey,
  ...(image.variants ?? []).map((variant) => variantBlobKey(image.blobKey, variant)),
]
