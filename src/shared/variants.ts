import type { ImageFormat } from './image-format.js'
import { IV_LENGTH, KEY_LENGTH } from './wire.js'

/**
 * One smaller copy of an image version, made at save time: its own ciphertext, encrypted
 * under a key derived from the version's data key (see {@link variantKeyInfo}).
 */
export interface ImageVariant {
  /** Width in pixels, as shown (orientation applied). */
  width: number
  /** Height in pixels, as shown. */
  height: number
  format: ImageFormat
  /** Size of the variant's image (not encrypted), in bytes. */
  bytes: number
  /**
   * 12 random bytes, standard base64, new for every variant made: the HKDF salt of its key and
   * IV, so that no key and IV ever encrypt two plaintexts (even a variant made again).
   */
  salt: string
}

/**
 * The name of a variant on the wire and in caches: `<width>.<format>`, unique within a
 * version (one width is made once per format).
 */
export const variantName = (variant: { width: number; format: string }): string => `${variant.width}.${variant.format}`

const namePattern = /^([1-9]\d{0,4})\.(png|webp|jpeg|gif|avif)$/

/** The width and format a variant name gives, or `undefined` for anything else. */
export function parseVariantName(name: unknown): { width: number; format: ImageFormat } | undefined {
  if (typeof name !== 'string') return undefined
  const match = namePattern.exec(name)
  return match ? { width: Number(match[1]), format: match[2] as ImageFormat } : undefined
}

/** Bytes of key material derived per variant: an AES-256 key, then a GCM IV. */
export const DERIVED_LENGTH = KEY_LENGTH + IV_LENGTH

/**
 * The HKDF-SHA-256 `info` (UTF-8) of a variant's key and IV, derived from its version's data
 * key with the variant's random `salt`. Every variant made gets a new salt, so each derived key
 * and IV encrypt exactly one plaintext.
 */
export const variantKeyInfo = (variant: { width: number; format: string }): string => `pixstore variant ${variantName(variant)}`

/** Bytes of a variant's random salt. */
export const VARIANT_SALT_LENGTH = 12

/** The HKDF-SHA-256 `info` of the key and IV that seal a version's placeholder at rest (with a random salt stored beside it). */
export const PLACEHOLDER_KEY_INFO = 'pixstore placeholder'
