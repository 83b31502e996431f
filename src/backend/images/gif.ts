import { ascii, concat, latin1, malformed, u16le, type WalkedImage } from './binary.js'

/**
 * Walks a GIF block by block: the logical screen, every extension's sub-blocks, every
 * frame's descriptor and image data, and the trailer last with nothing after it. A frame
 * may lie partly outside the logical screen, and decoders then grow the canvas: the
 * canvas counted is the largest any frame makes. Comments, plain text and application
 * extensions other than looping are metadata. Returns `undefined` for bytes that are not
 * a GIF at all.
 *
 * @throws PixstoreError `INVALID_IMAGE` saying what is broken.
 */
export function walkGif(b: Uint8Array, keepMetadata: boolean): WalkedImage | undefined {
  if (!ascii(b, 0, 'GIF87a') && !ascii(b, 0, 'GIF89a')) return undefined
  const fail = (why: string) => malformed('GIF', why)
  if (b.length < 14) throw fail('its header is cut short')
  const width = u16le(b, 6)
  const height = u16le(b, 8)
  const colourTable = (flags: number) => (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0)
  let i = 13 + colourTable(b[10]!)
  const kept: Uint8Array[] = [b.subarray(0, i)]
  let canvasPixels = width * height
  let frames = 0
  let removed = false
  const skipSubBlocks = () => {
    for (;;) {
      if (i >= b.length) throw fail('a block is cut short')
      const size = b[i++]!
      if (size === 0) return
      i += size
    }
  }
  for (;;) {
    if (i >= b.length) throw fail('it has no trailer')
    const start = i
    const introducer = b[i]!
    if (introducer === 0x3b) {
      if (i + 1 !== b.length) throw fail('there are bytes after its trailer')
      kept.push(b.subarray(i))
      break
    }
    if (introducer === 0x21) {
      const label = b[i + 1]
      i += 2
      const application = label === 0xff && b[i] === 11 ? latin1(b, i + 1, 11) : undefined
      skipSubBlocks()
      const isMetadata = label === 0xfe || label === 0x01 || (label === 0xff && application !== 'NETSCAPE2.0' && application !== 'ANIMEXTS1.0')
      if (!keepMetadata && isMetadata) removed = true
      else kept.push(b.subarray(start, i))
      continue
    }
    if (introducer === 0x2c) {
      if (i + 10 > b.length) throw fail('a frame descriptor is cut short')
      const [left, top, w, h] = [u16le(b, i + 1), u16le(b, i + 3), u16le(b, i + 5), u16le(b, i + 7)]
      if (w === 0 || h === 0) throw fail('a frame is empty')
      canvasPixels = Math.max(canvasPixels, Math.max(width, left + w) * Math.max(height, top + h))
      i += 10 + colourTable(b[i + 9]!)
      const minimumCodeSize = b[i++]
      if (minimumCodeSize === undefined || minimumCodeSize < 1 || minimumCodeSize > 11) throw fail('a frame has an invalid code size')
      skipSubBlocks()
      frames++
      kept.push(b.subarray(start, i))
      continue
    }
    throw fail('it has a block of unknown kind')
  }
  if (frames === 0) throw fail('it has no frame')
  return { format: 'gif', width, height, canvasPixels, stripped: removed ? concat(kept) : b }
}
