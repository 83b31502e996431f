import { deflateSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { createPixstoreBackend } from 'pixstore/backend'
import { pngChunk } from '../../demo/sample-images.js'
import { carriesMarkup } from '../../src/backend/images/markup.js'
import { fixture, saveOutcome, tempDir } from '../helpers.js'

const data = tempDir()
afterAll(() => data.remove())

async function outcome(bytes: Uint8Array, options: { imageMaxPixels?: number } = {}): Promise<string> {
  const backend = createPixstoreBackend({ dataDir: data.dir, ...options })
  try {
    return await saveOutcome(backend, bytes)
  } finally {
    await backend.close()
  }
}

const png = fixture('sample.png')
const beforeIend = (bytes: Buffer, ...chunks: Buffer[]) => Buffer.concat([bytes.subarray(0, bytes.length - 12), ...chunks, bytes.subarray(bytes.length - 12)])
const jpegComment = (text: string) => {
  const jpeg = fixture('sample.jpg')
  const head = Buffer.alloc(4)
  head.writeUInt16BE(0xfffe, 0)
  head.writeUInt16BE(text.length + 2, 2)
  return Buffer.concat([jpeg.subarray(0, 2), head, Buffer.from(text, 'latin1'), jpeg.subarray(2)])
}

/** A PNG whose pixel rows are stored uncompressed (deflate level 0), so that they hold `text` verbatim. */
function pngWithRawRows(text: string): Buffer {
  const width = 64
  const rows = Buffer.alloc((width * 3 + 1) * 4)
  Buffer.from(text, 'latin1').copy(rows, 1)
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(4, 4)
  header[8] = 8
  header[9] = 2
  return Buffer.concat([png.subarray(0, 8), pngChunk('IHDR', header), pngChunk('IDAT', deflateSync(rows, { level: 0 })), pngChunk('IEND', Buffer.alloc(0))])
}

describe('polyglots are found whatever the markup looks like', () => {
  it.each([
    ['an img tag with an event handler in a PNG text chunk', () => beforeIend(png, pngChunk('tEXt', Buffer.from('Comment\0<img src=x onerror=alert(1)>', 'latin1')))],
    ['a namespaced script in a PNG text chunk', () => beforeIend(png, pngChunk('tEXt', Buffer.from('x\0<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script>', 'latin1')))],
    ['a namespaced SVG in a JPEG comment', () => jpegComment('<s:svg xmlns:s="http://www.w3.org/2000/svg" onload="alert(1)"/>')],
    ['an event handler split by spaces', () => jpegComment('<a href=# onmouseover = alert(1)>x</a>')],
    ['an XML stylesheet instruction', () => jpegComment('<?xml-stylesheet href="data:text/xsl,..."?>')],
    ['markup in stored (uncompressed) pixel rows', () => pngWithRawRows('<img src=x onerror=alert(document.domain)>')],
  ])('refuses %s', async (_name, make) => {
    expect(await outcome(make())).toBe('INVALID_IMAGE')
  })

  it('looks for an event handler within 512 bytes of its tag, as every check before it did', () => {
    // The attribute's first letter at the 511th byte after `<` is inside the window, at the 512th outside.
    const tag = (spaces: number) => Buffer.from(`<a${' '.repeat(spaces)}onload=x`, 'latin1')
    expect(carriesMarkup(tag(509))).toBe(true)
    expect(carriesMarkup(tag(510))).toBe(false)
  })

  it('checks a file of many unclosed tags in time that grows with its size, not with its square', () => {
    // No `>`, `<a` after `<a`: each tag's window must end at 512 bytes, not at the end of the file.
    const timeOf = (bytes: Buffer) =>
      Math.min(
        ...[0, 1, 2].map(() => {
          const started = performance.now()
          expect(carriesMarkup(bytes)).toBe(false)
          return performance.now() - started
        }),
      )
    const small = timeOf(Buffer.from('<a'.repeat(32 * 1024), 'latin1'))
    const large = timeOf(Buffer.from('<a'.repeat(256 * 1024), 'latin1'))
    // Eight times the bytes: about eight times the time when linear, sixty-four when quadratic.
    expect(large / Math.max(small, 0.05)).toBeLessThan(24)
  })

  it('accepts the same rows and comments without markup, and XMP that is only data', async () => {
    expect(await outcome(pngWithRawRows('just a row of plain bytes, no tags here'))).toBe('ACCEPTED')
    expect(await outcome(jpegComment('one < two, and <3 for onions = tasty'))).toBe('ACCEPTED')
  })
})

describe('each format is walked by its structure', () => {
  it.each([
    ['a PNG with a wrong CRC', () => Buffer.concat([png.subarray(0, 40), Buffer.from([png[40]! ^ 1]), png.subarray(41)])],
    ['a PNG without IDAT', () => Buffer.concat([png.subarray(0, 33), pngChunk('IEND', Buffer.alloc(0))])],
    ['a PNG whose first chunk is not IHDR', () => Buffer.concat([png.subarray(0, 8), pngChunk('gAMA', Buffer.alloc(4)), png.subarray(8)])],
    ['a JPEG with a scan before its frame header', () => {
      const sos = Buffer.from([0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x12, 0x34, 0xff, 0xd9])
      return Buffer.concat([Buffer.from([0xff, 0xd8]), sos])
    }],
    ['a JPEG whose segment runs past the end', () => {
      const jpeg = fixture('sample.jpg')
      return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xe1, 0xff, 0xf0]), jpeg.subarray(2)])
    }],
    ['a GIF without its trailer', () => fixture('sample.gif').subarray(0, -1)],
    ['a GIF with a block of unknown kind', () => {
      const gif = fixture('sample.gif')
      return Buffer.concat([gif.subarray(0, -1), Buffer.from([0x99, 0x3b])])
    }],
    ['a WebP whose chunk runs past the end', () => {
      const webp = Buffer.from(fixture('sample.webp'))
      webp.writeUInt32LE(webp.readUInt32LE(16) + 100, 16)
      return webp
    }],
  ])('refuses %s as INVALID_IMAGE', async (_name, make) => {
    expect(await outcome(make())).toBe('INVALID_IMAGE')
  })

  it('counts the largest canvas: a GIF frame beyond the logical screen', async () => {
    // A 10 × 10 screen with one 3000 × 3000 frame: decoders allocate the frame.
    const gif = Buffer.from(fixture('sample.gif'))
    const screen = Buffer.concat([gif.subarray(0, 6), Buffer.from([10, 0, 10, 0, 0, 0, 0])])
    const frame = Buffer.from([0x2c, 0, 0, 0, 0, 0xb8, 0x0b, 0xb8, 0x0b, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b])
    expect(await outcome(Buffer.concat([screen, frame]), { imageMaxPixels: 1_000_000 })).toBe('TOO_LARGE')
    const small = Buffer.from(frame)
    small.writeUInt16LE(10, 5)
    small.writeUInt16LE(10, 7)
    expect(await outcome(Buffer.concat([screen, small]), { imageMaxPixels: 1_000_000 })).toBe('ACCEPTED')
  })

  it('counts the largest canvas: an APNG frame beyond the image', async () => {
    const fctl = Buffer.alloc(26)
    fctl.writeUInt32BE(0, 0)
    fctl.writeUInt32BE(5000, 4)
    fctl.writeUInt32BE(5000, 8)
    const apng = Buffer.concat([png.subarray(0, 33), pngChunk('acTL', Buffer.from([0, 0, 0, 1, 0, 0, 0, 0])), pngChunk('fcTL', fctl), png.subarray(33)])
    expect(await outcome(apng, { imageMaxPixels: 1_000_000 })).toBe('TOO_LARGE')
  })

  it('counts the largest canvas: an animated WebP frame beyond the canvas', async () => {
    const bitstream = fixture('sample.webp').subarray(12)
    const vp8x = Buffer.alloc(10)
    vp8x[0] = 0x02
    vp8x.writeUIntLE(95, 4, 3)
    vp8x.writeUIntLE(63, 7, 3)
    const frame = Buffer.alloc(16)
    frame.writeUIntLE(4999, 6, 3)
    frame.writeUIntLE(4999, 9, 3)
    const riff = (fourcc: string, body: Buffer) => {
      const head = Buffer.alloc(8)
      head.write(fourcc, 0, 'latin1')
      head.writeUInt32LE(body.length, 4)
      return Buffer.concat([head, body, Buffer.alloc(body.length & 1)])
    }
    const anim = Buffer.alloc(6)
    const body = Buffer.concat([Buffer.from('WEBP'), riff('VP8X', vp8x), riff('ANIM', anim), riff('ANMF', Buffer.concat([frame, bitstream]))])
    const head = Buffer.alloc(8)
    head.write('RIFF', 0, 'latin1')
    head.writeUInt32LE(body.length, 4)
    expect(await outcome(Buffer.concat([head, body]), { imageMaxPixels: 1_000_000 })).toBe('TOO_LARGE')
  })

  it('reads an AVIF size from its primary item, not from a decoy ispe placed first', async () => {
    const avif = Buffer.from(fixture('sample.avif'))
    const at = avif.indexOf('ispe')
    avif.writeUInt32BE(4000, at + 8)
    avif.writeUInt32BE(4000, at + 12)
    const ftypEnd = avif.readUInt32BE(0)
    const decoy = Buffer.from([0, 0, 0, 28, ...Buffer.from('free'), 0, 0, 0, 20, ...Buffer.from('ispe'), 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1])
    const withDecoy = Buffer.concat([avif.subarray(0, ftypEnd), decoy, avif.subarray(ftypEnd)])
    expect(await outcome(withDecoy, { imageMaxPixels: 1_000_000 })).toBe('TOO_LARGE')
    expect(await outcome(fixture('sample.avif'), { imageMaxPixels: 96 * 64 })).toBe('ACCEPTED')
  })
})
