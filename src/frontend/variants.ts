import { fromBase64 } from '../shared/base64.js'
import { PixstoreError } from '../shared/errors.js'
import { mimeTypeOf, type ImageFormat } from '../shared/image-format.js'
import { DERIVED_LENGTH, variantKeyInfo, variantName, type ImageVariant } from '../shared/variants.js'
import { KEY_LENGTH } from '../shared/wire.js'
import type { ImageRecord } from '../types/index.js'

// One-pixel images, to ask the browser whether it decodes each format.
const probes: readonly [ImageFormat, string][] = [
  [
    'avif',
    'AAAAHGZ0eXBhdmlmAAAAAG1pZjFhdmlmbWlhZgAAANZtZXRhAAAAAAAAACFoZGxyAAAAAAAAAABwaWN0AAAAAAAAAAAAAAAAAAAAACJpbG9jAAAAAERAAAEAAQAAAAAA+gABAAAAAAAAAB8AAAAjaWluZgAAAAAAAQAAABVpbmZlAgAAAAABAABhdjAxAAAAAA5waXRtAAAAAAABAAAAVmlwcnAAAAA4aXBjbwAAAAxhdjFDgSACAAAAABRpc3BlAAAAAAAAAAEAAAABAAAAEHBpeGkAAAAAAwgICAAAABZpcG1hAAAAAAAAAAEAAQOBAgMAAAAnbWRhdBIACgc4AAaQENBpMhIcQmLk6aaaYWNgAJA2MPCNwhU=',
  ],
  ['webp', 'UklGRh4AAABXRUJQVlA4TBEAAAAvAAAAAAfQ//73v/+BiOh/AAA='],
]

/** The page's device pixel ratio, 1 where there is none (outside a browser). */
export const pixelRatio = (): number => (typeof devicePixelRatio === 'number' && devicePixelRatio > 0 ? devicePixelRatio : 1)

let detected: Promise<readonly ImageFormat[]> | undefined

/**
 * The newer formats this browser decodes, best first (AVIF, then WebP), found once per page
 * by decoding a one-pixel image of each. None where `createImageBitmap` is missing.
 */
export function detectDecodableFormats(): Promise<readonly ImageFormat[]> {
  detected ??= Promise.all(
    probes.map(async ([format, base64]) => {
      if (typeof createImageBitmap !== 'function') return undefined
      try {
        const bitmap = await createImageBitmap(new Blob([fromBase64(base64) as Uint8Array<ArrayBuffer>], { type: mimeTypeOf(format) }))
        bitmap.close()
        return format
      } catch {
        return undefined
      }
    }),
  ).then((found) => found.filter((format) => format !== undefined))
  return detected
}

/**
 * The variant of `record` to load for a box `width` CSS pixels wide at `pixelRatio`: the
 * smallest at least that many device pixels wide, in the first format of `preferred` that
 * has one (the original's format comes last on its own); `undefined` when the original is
 * the one to load (no variant is wide enough, or the record has none).
 */
export function pickVariant(record: ImageRecord, width: number, pixelRatio: number, preferred: readonly ImageFormat[]): ImageVariant | undefined {
  const variants = record.variants
  if (!variants?.length) return undefined
  const needed = Math.ceil(width * pixelRatio)
  const formats = record.format && !preferred.includes(record.format) ? [...preferred, record.format] : preferred
  for (const format of formats) {
    let best: ImageVariant | undefined
    for (const variant of variants) {
      if (variant.format === format && variant.width >= needed && (!best || variant.width < best.width)) best = variant
    }
    if (best) return best
  }
  return undefined
}

/**
 * Cached variants of the same version that may stand in for `wanted`: those at least as
 * wide, in a format the browser decodes, narrowest first.
 */
export function widerVariants(record: ImageRecord, wanted: ImageVariant, decodable: readonly ImageFormat[]): ImageVariant[] {
  return (record.variants ?? [])
    .filter((v) => v !== wanted && v.width >= wanted.width && (decodable.includes(v.format) || v.format === record.format))
    .sort((a, b) => a.width - b.width)
}

/** The browser cache's key of a variant: the image id, `#`, and the variant's name (`#` is never in an id). */
export const variantCacheKey = (id: string, variant: ImageVariant) => `${id}#${variantName(variant)}`

const failed = (cause?: unknown) => new PixstoreError('DECRYPT_FAILED', 'The image could not be decrypted', { cause })

/**
 * Decrypts a variant's ciphertext (tag appended) with the key and IV derived from the
 * version's data key and the variant's salt, and returns it as a `Blob` of the variant's format.
 *
 * @throws PixstoreError `DECRYPT_FAILED`
 */
export async function decryptVariantToBlob(sealed: Uint8Array, dataKey: Uint8Array, variant: ImageVariant): Promise<Blob> {
  let plain: ArrayBuffer
  try {
    const base = await crypto.subtle.importKey('raw', dataKey as Uint8Array<ArrayBuffer>, 'HKDF', false, ['deriveBits'])
    const info = new TextEncoder().encode(variantKeyInfo(variant))
    const salt = fromBase64(variant.salt) as Uint8Array<ArrayBuffer>
    const material = new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, base, DERIVED_LENGTH * 8))
    const key = await crypto.subtle.importKey('raw', material.subarray(0, KEY_LENGTH), 'AES-GCM', false, ['decrypt'])
    plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: material.subarray(KEY_LENGTH), tagLength: 128 }, key, sealed as Uint8Array<ArrayBuffer>)
  } catch (cause) {
    throw failed(cause)
  }
  return new Blob([plain], { type: mimeTypeOf(variant.format) })
}
