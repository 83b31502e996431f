import { crc32 } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { createPixstoreBackend } from 'pixstore/backend'
import { encodePng, pngChunk } from '../../demo/sample-images.js'
import { fixture, saveOutcome, tempDir } from '../helpers.js'

const data = tempDir()
const backend = createPixstoreBackend({ dataDir: data.dir })
afterAll(async () => {
  await backend.close()
  data.remove()
})

const codeOf = async (bytes: Uint8Array, limits: { imageMaxPixels?: number } = {}) => {
  const b = limits.imageMaxPixels ? createPixstoreBackend({ dataDir: data.dir, ...limits }) : backend
  try {
    return await saveOutcome(b, bytes)
  } finally {
    if (b !== backend) await b.close()
  }
}

/** `png` with a chunk inserted before its IEND chunk. */
const withChunk = (png: Buffer, type: string, body: string) =>
  Buffer.concat([png.subarray(0, png.length - 12), pngChunk(type, Buffer.from(body, 'latin1')), png.subarray(png.length - 12)])

/** `jpeg` with a comment segment after its start marker. */
function withComment(jpeg: Buffer, text: string): Buffer {
  const body = Buffer.from(text, 'latin1')
  const segment = Buffer.alloc(4 + body.length)
  segment.writeUInt16BE(0xfffe, 0)
  segment.writeUInt16BE(body.length + 2, 2)
  body.copy(segment, 4)
  return Buffer.concat([jpeg.subarray(0, 2), segment, jpeg.subarray(2)])
}

describe('image sniffing', () => {
  it('accepts each supported format with metadata that is not markup', async () => {
    for (const name of ['sample.png', 'sample.jpg', 'sample.webp', 'sample-lossless.webp', 'sample.gif', 'sample.avif']) {
      expect(await codeOf(fixture(name)), name).toBe('ACCEPTED')
    }
    const xmp = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    expect(await codeOf(withChunk(fixture('sample.png'), 'iTXt', `XML:com.adobe.xmp\0\0\0\0\0${xmp}`))).toBe('ACCEPTED')
    expect(await codeOf(withComment(fixture('sample.jpg'), 'made with care'))).toBe('ACCEPTED')
  })

  it.each([
    ['a PNG with HTML after its end', () => Buffer.concat([fixture('sample.png'), Buffer.from('<html><script>alert(1)</script>')])],
    ['a PNG with a script in a text chunk', () => withChunk(fixture('sample.png'), 'tEXt', 'Comment\0<SCRIPT>alert(1)</SCRIPT>')],
    ['a PNG carrying an SVG', () => withChunk(fixture('sample.png'), 'tEXt', 'x\0<svg onload=alert(1)>')],
    ['a JPEG with HTML in a comment', () => withComment(fixture('sample.jpg'), '<!DOCTYPE html><body onload=alert(1)>')],
    ['a JPEG with bytes after its end marker', () => Buffer.concat([fixture('sample.jpg'), Buffer.from('PK\x05\x06' + '\0'.repeat(18))])],
    ['a GIF with an archive appended', () => Buffer.concat([fixture('sample.gif'), Buffer.from('PK\x03\x04rest')])],
    ['a WebP whose RIFF size does not cover the file', () => Buffer.concat([fixture('sample.webp'), Buffer.from('<?php echo 1; ?>')])],
    ['an AVIF with bytes after its last box', () => Buffer.concat([fixture('sample.avif'), Buffer.from('trailing')])],
    ['an HTML page', () => Buffer.from('<!doctype html><html><body>hi</body></html>')],
  ])('refuses %s as INVALID_IMAGE', async (_name, make) => {
    expect(await codeOf(make())).toBe('INVALID_IMAGE')
  })

  it('refuses an image whose header declares more pixels than imageMaxPixels, before decoding anything', async () => {
    // A 20000 × 20000 PNG header over a tiny body: a decompression bomb for whoever decodes it.
    const bomb = encodePng(1, 1, new Uint8Array(3))
    bomb.writeUInt32BE(20_000, 16)
    bomb.writeUInt32BE(20_000, 20)
    bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29)
    expect(await codeOf(bomb)).toBe('TOO_LARGE')
    expect(await codeOf(fixture('sample.png'), { imageMaxPixels: 96 * 64 - 1 })).toBe('TOO_LARGE')
    expect(await codeOf(fixture('sample.png'), { imageMaxPixels: 96 * 64 })).toBe('ACCEPTED')
  })
})
