import { ascii, concat, latin1, malformed, u16le, u24le, u32le, type WalkedImage } from './binary.js'
import { orientationOnlyTiff, readOrientation } from './exif.js'

const EXIF_FLAG = 0x08
const XMP_FLAG = 0x04

function chunk(fourcc: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length + (body.length & 1))
  for (let i = 0; i < 4; i++) out[i] = fourcc.charCodeAt(i)
  new DataView(out.buffer).setUint32(4, body.length, true)
  out.set(body, 8)
  return out
}

/** The size a VP8 or VP8L bitstream declares, or `undefined` if it is not one. */
function bitstreamSize(fourcc: string, body: Uint8Array): { width: number; height: number } | undefined {
  if (fourcc === 'VP8 ' && body.length >= 10 && body[3] === 0x9d && body[4] === 0x01 && body[5] === 0x2a) {
    return { width: u16le(body, 6) & 0x3fff, height: u16le(body, 8) & 0x3fff }
  }
  if (fourcc === 'VP8L' && body.length >= 5 && body[0] === 0x2f) {
    const bits = u32le(body, 1)
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 }
  }
  return undefined
}

/**
 * Walks a WebP's RIFF chunks: the RIFF size covers the file exactly, every chunk fits, a
 * simple file is one VP8 or VP8L bitstream, an extended one starts with VP8X. Animation
 * frames (ANMF) and every bitstream count towards the canvas. Returns `undefined` for
 * bytes that are not a WebP at all.
 *
 * @throws PixstoreError `INVALID_IMAGE` saying what is broken.
 */
export function walkWebp(b: Uint8Array, keepMetadata: boolean): WalkedImage | undefined {
  if (!ascii(b, 0, 'RIFF') || !ascii(b, 8, 'WEBP')) return undefined
  const fail = (why: string) => malformed('WebP', why)
  if (b.length < 20 || u32le(b, 4) + 8 !== b.length) throw fail('its RIFF size does not match the file')
  const chunks: { fourcc: string; body: Uint8Array; raw: Uint8Array }[] = []
  for (let i = 12; i < b.length; ) {
    if (i + 8 > b.length) throw fail('a chunk is cut short')
    const fourcc = latin1(b, i, 4)
    const size = u32le(b, i + 4)
    const end = i + 8 + size + (size & 1)
    if (end > b.length) throw fail('a chunk is cut short')
    chunks.push({ fourcc, body: b.subarray(i + 8, i + 8 + size), raw: b.subarray(i, end) })
    i = end
  }
  const first = chunks[0]!
  if (first.fourcc === 'VP8 ' || first.fourcc === 'VP8L') {
    const size = bitstreamSize(first.fourcc, first.body)
    if (!size || chunks.length !== 1) throw fail('a simple WebP must be one VP8 or VP8L bitstream')
    return { format: 'webp', ...size, canvasPixels: size.width * size.height, stripped: b }
  }
  if (first.fourcc !== 'VP8X' || first.body.length < 10) throw fail('it starts with neither a bitstream nor VP8X')
  const width = u24le(first.body, 4) + 1
  const height = u24le(first.body, 7) + 1
  let canvasPixels = width * height
  let images = 0
  const frameBitstreams = (frame: Uint8Array) => {
    // An ANMF frame holds its own chunks after a 16-byte header.
    for (let j = 16; j + 8 <= frame.length; ) {
      const fourcc = latin1(frame, j, 4)
      const size = u32le(frame, j + 4)
      const bitstream = bitstreamSize(fourcc, frame.subarray(j + 8, j + 8 + size))
      if (bitstream) {
        images++
        canvasPixels = Math.max(canvasPixels, bitstream.width * bitstream.height)
      }
      j += 8 + size + (size & 1)
    }
  }
  let orientation: number | undefined
  let removed = false
  const kept: Uint8Array[] = []
  for (const { fourcc, body, raw } of chunks.slice(1)) {
    if (fourcc === 'VP8X') throw fail('it has a second VP8X chunk')
    const bitstream = bitstreamSize(fourcc, body)
    if (fourcc === 'VP8 ' || fourcc === 'VP8L') {
      if (!bitstream) throw fail(`its ${fourcc.trim()} bitstream is malformed`)
      images++
      canvasPixels = Math.max(canvasPixels, bitstream.width * bitstream.height)
    }
    if (fourcc === 'ANMF') {
      if (body.length < 16) throw fail('an animation frame is cut short')
      const [x, y, w, h] = [u24le(body, 0) * 2, u24le(body, 3) * 2, u24le(body, 6) + 1, u24le(body, 9) + 1]
      canvasPixels = Math.max(canvasPixels, Math.max(width, x + w) * Math.max(height, y + h))
      frameBitstreams(body)
    }
    if (!keepMetadata && (fourcc === 'EXIF' || fourcc === 'XMP ')) {
      if (fourcc === 'EXIF') orientation = readOrientation(body)
      removed = true
      continue
    }
    kept.push(raw)
  }
  if (images === 0) throw fail('it holds no image')
  const walked = { format: 'webp' as const, width, height, canvasPixels }
  if (!removed) return { ...walked, stripped: b }
  const header = first.raw.slice()
  header[8] = header[8]! & ~(EXIF_FLAG | XMP_FLAG)
  if (orientation !== undefined && orientation !== 1) {
    header[8] = header[8]! | EXIF_FLAG
    kept.push(chunk('EXIF', orientationOnlyTiff(orientation)))
  }
  const body = concat([new TextEncoder().encode('WEBP'), header, ...kept])
  const riff = new Uint8Array(8)
  riff.set(new TextEncoder().encode('RIFF'))
  new DataView(riff.buffer).setUint32(4, body.length, true)
  return { ...walked, stripped: concat([riff, body]) }
}
