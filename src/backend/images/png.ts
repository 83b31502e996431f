import { crc32 } from 'node:zlib'
import { ascii, concat, latin1, malformed, u32be, type WalkedImage } from './binary.js'
import { orientationOnlyTiff, readOrientation } from './exif.js'

const SIGNATURE = '\x89PNG\r\n\x1a\n'
// Chunks that carry text, camera data or times: removed unless metadata is kept. The colour
// chunks (iCCP, sRGB, gAMA, cHRM) and pixel density stay: display needs them.
const METADATA = new Set(['tEXt', 'zTXt', 'iTXt', 'eXIf', 'tIME'])

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, body.length)
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i)
  out.set(body, 8)
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)))
  return out
}

/**
 * Walks a PNG chunk by chunk: IHDR first, every CRC right, at least one IDAT, IEND last
 * with nothing after it. Animation frames (fcTL) count towards the canvas. Returns
 * `undefined` for bytes that are not a PNG at all.
 *
 * @throws PixstoreError `INVALID_IMAGE` saying what is broken.
 */
export function walkPng(b: Uint8Array, keepMetadata: boolean): WalkedImage | undefined {
  if (!ascii(b, 0, SIGNATURE)) return undefined
  const fail = (why: string) => malformed('PNG', why)
  const kept: Uint8Array[] = [b.subarray(0, 8)]
  let width = 0
  let height = 0
  let canvasPixels = 0
  let dataChunks = 0
  let ended = false
  let removed = false
  let orientation: number | undefined
  for (let i = 8; i < b.length; ) {
    if (ended) throw fail('there are bytes after its IEND chunk')
    if (i + 12 > b.length) throw fail('a chunk is cut short')
    const length = u32be(b, i)
    const end = i + 12 + length
    if (length > 0x7fffffff || end > b.length) throw fail('a chunk is cut short')
    const type = latin1(b, i + 4, 4)
    if (!/^[A-Za-z]{4}$/.test(type)) throw fail('a chunk has an invalid type')
    if (crc32(b.subarray(i + 4, i + 8 + length)) !== u32be(b, i + 8 + length)) throw fail(`the CRC of a ${type} chunk does not match`)
    const body = b.subarray(i + 8, i + 8 + length)
    if (i === 8) {
      if (type !== 'IHDR' || length !== 13) throw fail('it does not start with an IHDR chunk')
      width = u32be(body, 0)
      height = u32be(body, 4)
      canvasPixels = width * height
    } else if (type === 'IHDR') throw fail('it has a second IHDR chunk')
    if (type === 'IDAT') dataChunks++
    if (type === 'IEND') ended = true
    if (type === 'fcTL') {
      if (length !== 26) throw fail('an fcTL chunk has the wrong size')
      const [w, h, x, y] = [u32be(body, 4), u32be(body, 8), u32be(body, 12), u32be(body, 16)]
      canvasPixels = Math.max(canvasPixels, Math.max(width, x + w) * Math.max(height, y + h))
    }
    if (!keepMetadata && METADATA.has(type)) {
      if (type === 'eXIf') orientation = readOrientation(body)
      removed = true
    } else kept.push(b.subarray(i, end))
    i = end
  }
  if (!ended) throw fail('it has no IEND chunk')
  if (dataChunks === 0) throw fail('it has no IDAT chunk')
  if (!removed) return { format: 'png', width, height, canvasPixels, stripped: b }
  // The orientation stays, right after IHDR (eXIf must come before the image data).
  if (orientation !== undefined && orientation !== 1) kept.splice(2, 0, chunk('eXIf', orientationOnlyTiff(orientation)))
  return { format: 'png', width, height, canvasPixels, stripped: concat(kept) }
}
