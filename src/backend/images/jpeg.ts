import { ascii, concat, malformed, u16be, type WalkedImage } from './binary.js'
import { orientationOnlyTiff, readOrientation } from './exif.js'

const isFrameHeader = (marker: number) => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc

/**
 * Whether a segment is metadata to remove: EXIF, XMP (APP1), IPTC (APP13), comments and
 * the other application segments. JFIF (APP0), ICC profiles (APP2 "ICC_PROFILE") and the
 * Adobe colour transform (APP14) stay: display needs them.
 */
function isMetadata(marker: number, body: Uint8Array): boolean {
  if (marker === 0xfe) return true
  if (marker < 0xe0 || marker > 0xef) return false
  if (marker === 0xe0 || marker === 0xee) return false
  if (marker === 0xe2) return !ascii(body, 0, 'ICC_PROFILE\0')
  return true
}

function segment(marker: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length)
  out[0] = 0xff
  out[1] = marker
  out[2] = (body.length + 2) >> 8
  out[3] = (body.length + 2) & 0xff
  out.set(body, 4)
  return out
}

/**
 * Walks a JPEG segment by segment up to its end marker: a frame header before the first
 * scan, every segment length inside the file, the entropy-coded data of each scan skipped
 * to the next marker, and nothing after EOI. Returns `undefined` for bytes that are not a
 * JPEG at all.
 *
 * @throws PixstoreError `INVALID_IMAGE` saying what is broken.
 */
export function walkJpeg(b: Uint8Array, keepMetadata: boolean): WalkedImage | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8 || b[2] !== 0xff) return undefined
  const fail = (why: string) => malformed('JPEG', why)
  const kept: Uint8Array[] = [b.subarray(0, 2)]
  let width = 0
  let height = 0
  let scans = 0
  let removed = false
  let orientation: number | undefined
  let afterApp0 = 1
  let i = 2
  for (;;) {
    if (i >= b.length) throw fail('it has no end marker')
    if (b[i] !== 0xff) throw fail('a segment does not start with a marker')
    const start = i
    while (b[i] === 0xff) i++ // fill bytes
    if (i >= b.length) throw fail('it has no end marker')
    const marker = b[i++]!
    if (marker === 0xd9) {
      if (i !== b.length) throw fail('there are bytes after its end marker')
      kept.push(b.subarray(start, i))
      break
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      kept.push(b.subarray(start, i))
      continue
    }
    if (marker === 0xd8 || marker === 0x00) throw fail('a marker is out of place')
    if (i + 2 > b.length) throw fail('a segment is cut short')
    const length = u16be(b, i)
    if (length < 2 || i + length > b.length) throw fail('a segment is cut short')
    const body = b.subarray(i + 2, i + length)
    i += length
    if (isFrameHeader(marker)) {
      if (width !== 0) throw fail('it has a second frame header')
      if (body.length < 6) throw fail('its frame header is cut short')
      height = u16be(body, 1)
      width = u16be(body, 3)
    }
    if (marker === 0xda) {
      if (width === 0) throw fail('a scan comes before the frame header')
      scans++
      // Entropy-coded data runs to the next marker that is not a stuffed byte or a restart.
      while (i < b.length) {
        if (b[i] !== 0xff) {
          const marker = b.indexOf(0xff, i)
          i = marker === -1 ? b.length : marker
        } else if (b[i + 1] === 0x00 || (b[i + 1]! >= 0xd0 && b[i + 1]! <= 0xd7)) i += 2
        else if (b[i + 1] === 0xff) i++
        else break
      }
      kept.push(b.subarray(start, i))
      continue
    }
    if (!keepMetadata && isMetadata(marker, body)) {
      if (marker === 0xe1 && ascii(body, 0, 'Exif\0\0')) orientation = readOrientation(body)
      removed = true
      continue
    }
    kept.push(b.subarray(start, i))
    if (marker === 0xe0 && kept.length === 2) afterApp0 = 2
  }
  if (width === 0) throw fail('it has no frame header')
  if (scans === 0) throw fail('it has no scan')
  const walked = { format: 'jpeg' as const, width, height, canvasPixels: width * height }
  if (!removed) return { ...walked, stripped: b }
  // The orientation stays, in an EXIF segment of its own, after JFIF's APP0 where there is one.
  if (orientation !== undefined && orientation !== 1) {
    kept.splice(afterApp0, 0, segment(0xe1, concat([new TextEncoder().encode('Exif\0\0'), orientationOnlyTiff(orientation)])))
  }
  return { ...walked, stripped: concat(kept) }
}
