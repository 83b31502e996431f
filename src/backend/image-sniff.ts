import { PixstoreError } from '../shared/errors.js'
import type { ImageFormat } from '../shared/image-format.js'

/** What the bytes of an accepted image say about it. */
export interface SniffedImage {
  format: ImageFormat
  width: number
  height: number
}

const ascii = (bytes: Uint8Array, start: number, text: string): boolean => {
  if (start + text.length > bytes.length) return false
  for (let i = 0; i < text.length; i++) if (bytes[start + i] !== text.charCodeAt(i)) return false
  return true
}
const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!
const u16le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8)
const u24le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16)
const u32be = (b: Uint8Array, i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0
const u32le = (b: Uint8Array, i: number) => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0

function png(b: Uint8Array): SniffedImage | undefined {
  if (!ascii(b, 0, '\x89PNG\r\n\x1a\n')) return undefined
  if (b.length < 8 + 25 + 12 || u32be(b, 8) !== 13 || !ascii(b, 12, 'IHDR')) return undefined
  // A complete PNG ends with its IEND chunk; anything after it would be smuggled data.
  if (!ascii(b, b.length - 12, '\0\0\0\0IEND')) return undefined
  return { format: 'png', width: u32be(b, 16), height: u32be(b, 20) }
}

function jpeg(b: Uint8Array): SniffedImage | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8 || b[2] !== 0xff) return undefined
  if (b[b.length - 2] !== 0xff || b[b.length - 1] !== 0xd9) return undefined
  let i = 2
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined
    const marker = b[i + 1]!
    if (marker === 0xff) {
      i++
      continue
    }
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
    if (isFrame) return { format: 'jpeg', width: u16be(b, i + 7), height: u16be(b, i + 5) }
    if (marker === 0xd9 || marker === 0xda) return undefined
    i += 2 + u16be(b, i + 2)
  }
  return undefined
}

function webp(b: Uint8Array): SniffedImage | undefined {
  if (!ascii(b, 0, 'RIFF') || !ascii(b, 8, 'WEBP') || b.length < 30) return undefined
  if (u32le(b, 4) + 8 !== b.length) return undefined
  if (ascii(b, 12, 'VP8X')) return { format: 'webp', width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 }
  if (ascii(b, 12, 'VP8 ') && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { format: 'webp', width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff }
  }
  if (ascii(b, 12, 'VP8L') && b[20] === 0x2f) {
    const bits = u32le(b, 21)
    return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 }
  }
  return undefined
}

function gif(b: Uint8Array): SniffedImage | undefined {
  if (!ascii(b, 0, 'GIF87a') && !ascii(b, 0, 'GIF89a')) return undefined
  if (b.length < 14 || b[b.length - 1] !== 0x3b) return undefined
  return { format: 'gif', width: u16le(b, 6), height: u16le(b, 8) }
}

// The top-level boxes of an ISO media file must cover it exactly: nothing smuggled after them.
function boxesCoverFile(b: Uint8Array): boolean {
  let i = 0
  while (i < b.length) {
    if (i + 8 > b.length) return false
    let size = u32be(b, i)
    if (size === 1) {
      if (i + 16 > b.length || u32be(b, i + 8) !== 0) return false
      size = u32be(b, i + 12)
    } else if (size === 0) {
      size = b.length - i
    }
    if (size < 8) return false
    i += size
  }
  return i === b.length
}

function avif(b: Uint8Array): SniffedImage | undefined {
  if (b.length < 16 || !ascii(b, 4, 'ftyp') || !boxesCoverFile(b)) return undefined
  const boxEnd = Math.min(u32be(b, 0), b.length)
  let brand = false
  for (let i = 8; i + 4 <= boxEnd; i += 4) if (ascii(b, i, 'avif') || ascii(b, i, 'avis')) brand = true
  if (!brand) return undefined
  // The image spatial extents property carries the size; the first one is the primary item's.
  for (let i = boxEnd; i + 20 <= b.length; i++) {
    if (ascii(b, i, 'ispe')) return { format: 'avif', width: u32be(b, i + 8), height: u32be(b, i + 12) }
  }
  return undefined
}

// Markup that a browser or a mis-set Content-Type could run: an image that also carries it
// (in a comment, a metadata chunk, anywhere) is a polyglot and is refused. Image metadata
// such as XMP is XML but never holds these.
const markup = ['<script', '<html', '<svg', '<!doctype', '<?php', '<iframe', '<body', '<object', '<embed'].map((tag) =>
  Array.from(tag, (c) => c.charCodeAt(0)),
)

function carriesMarkup(b: Uint8Array): boolean {
  for (let i = b.indexOf(0x3c); i !== -1; i = b.indexOf(0x3c, i + 1)) {
    for (const tag of markup) {
      let j = 1
      // Letters compared case-insensitively (OR 0x20 lower-cases ASCII letters).
      while (j < tag.length && i + j < b.length && (b[i + j]! | 0x20) === tag[j]) j++
      if (j === tag.length) return true
    }
  }
  return false
}

function looksLikeText(b: Uint8Array): boolean {
  let i = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++
  return b[i] === 0x3c // '<': SVG, HTML or XML
}

/**
 * Identifies a PNG, JPEG, WebP, GIF or AVIF image from its bytes (never from a name) and
 * reads its size from its header.
 *
 * @throws PixstoreError `INVALID_IMAGE` for anything else, SVG included (an SVG shown
 * through a blob URL runs its scripts in the app's origin), for a file with bytes after
 * its image data, and for one that carries HTML, SVG or script markup (a polyglot).
 */
export function sniffImage(bytes: Uint8Array): SniffedImage {
  if (bytes.length === 0) throw new PixstoreError('INVALID_IMAGE', 'The image is empty')
  const found = png(bytes) ?? jpeg(bytes) ?? webp(bytes) ?? gif(bytes) ?? avif(bytes)
  if (found && found.width > 0 && found.height > 0) {
    if (carriesMarkup(bytes)) throw new PixstoreError('INVALID_IMAGE', 'The image carries embedded markup (a polyglot file) and is refused')
    return found
  }
  if (looksLikeText(bytes)) {
    throw new PixstoreError('INVALID_IMAGE', 'SVG and other markup are refused: only PNG, JPEG, WebP, GIF and AVIF images are stored')
  }
  throw new PixstoreError('INVALID_IMAGE', 'The bytes are not a complete PNG, JPEG, WebP, GIF or AVIF image')
}
