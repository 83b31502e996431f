import { PixstoreError } from '../../shared/errors.js'
import type { WalkedImage } from './binary.js'
import { walkAvif } from './avif.js'
import { walkGif } from './gif.js'
import { walkJpeg } from './jpeg.js'
import { carriesMarkup, looksLikeMarkup } from './markup.js'
import { walkPng } from './png.js'
import { walkWebp } from './webp.js'

export type { WalkedImage } from './binary.js'

/**
 * Identifies a PNG, JPEG, WebP, GIF or AVIF image from its bytes (never from a name) by
 * walking its structure, reads its size and the largest canvas a decoder would allocate
 * for it, and, unless `keepMetadata`, removes its metadata (EXIF but the orientation, XMP,
 * IPTC, comments, text chunks), keeping what display needs.
 *
 * @throws PixstoreError `INVALID_IMAGE` for anything else, SVG included (an SVG shown
 * through a blob URL runs its scripts in the app's origin), for a broken structure, bytes
 * after the image data, and for one that carries HTML, SVG or script markup (a polyglot).
 */
export function inspectImage(bytes: Uint8Array, keepMetadata: boolean): WalkedImage {
  if (bytes.length === 0) throw new PixstoreError('INVALID_IMAGE', 'The image is empty')
  const found =
    walkPng(bytes, keepMetadata) ??
    walkJpeg(bytes, keepMetadata) ??
    walkWebp(bytes, keepMetadata) ??
    walkGif(bytes, keepMetadata) ??
    walkAvif(bytes, keepMetadata)
  if (found) {
    if (found.width <= 0 || found.height <= 0) throw new PixstoreError('INVALID_IMAGE', `The ${found.format} image declares no size`)
    if (carriesMarkup(bytes)) throw new PixstoreError('INVALID_IMAGE', 'The image carries embedded markup (a polyglot file) and is refused')
    return found
  }
  if (looksLikeMarkup(bytes)) {
    throw new PixstoreError('INVALID_IMAGE', 'SVG and other markup are refused: only PNG, JPEG, WebP, GIF and AVIF images are stored')
  }
  throw new PixstoreError('INVALID_IMAGE', 'The bytes are not a complete PNG, JPEG, WebP, GIF or AVIF image')
}
