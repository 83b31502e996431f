import { PixstoreError } from '../../shared/errors.js'
import type { ImageFormat } from '../../shared/image-format.js'

/** What walking an image's structure found. */
export interface WalkedImage {
  format: ImageFormat
  width: number
  height: number
  /**
   * Pixels of the largest canvas a decoder may allocate for the image: frames placed past
   * the declared size (GIF, APNG, animated WebP) or larger images inside (AVIF) count.
   */
  canvasPixels: number
  /** The image without its metadata, or the input itself when nothing was removed. */
  stripped: Uint8Array
}

export const ascii = (bytes: Uint8Array, start: number, text: string): boolean => {
  if (start < 0 || start + text.length > bytes.length) return false
  for (let i = 0; i < text.length; i++) if (bytes[start + i] !== text.charCodeAt(i)) return false
  return true
}
export const latin1 = (b: Uint8Array, start: number, length: number) => String.fromCharCode(...b.subarray(start, start + length))
export const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!
export const u16le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8)
export const u24le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16)
export const u32be = (b: Uint8Array, i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0
export const u32le = (b: Uint8Array, i: number) => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0

/** A big-endian unsigned number of `size` bytes (0, 4 or 8; 8 only below 2^53). */
export function uintBe(b: Uint8Array, i: number, size: number): number {
  if (size === 0) return 0
  if (size === 4) return u32be(b, i)
  if (size === 8) return u32be(b, i) * 2 ** 32 + u32be(b, i + 4)
  if (size === 2) return u16be(b, i)
  throw new RangeError(`unsupported field size ${size}`)
}

/** The refusal of an image whose structure is broken, saying what is wrong. */
export const malformed = (format: string, why: string) => new PixstoreError('INVALID_IMAGE', `The ${format} image is malformed: ${why}`)

/** Joins parts into one buffer. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}
