import { afterAll, describe, expect, it } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { decryptUpdatedPayload, tempDir } from '../helpers.js'
import { jpegWithMetadata, pngWithMetadata, privateMarkers, webpWithMetadata } from '../metadata-images.js'
import { readOrientation } from '../../src/backend/images/exif.js'
import { inspectImage } from '../../src/backend/images/inspect.js'

const data = tempDir()
afterAll(() => data.remove())

/** Saves `bytes` and returns the image as stored (decrypted as a client would). */
async function stored(backend: PixstoreBackend, bytes: Buffer): Promise<Buffer> {
  const record = (await backend.saveImage(bytes))!
  return decryptUpdatedPayload(await backend.customEndpointHelper(record.id, undefined, record.statelessProof))
}

/** The EXIF block of an image as stored, wherever its format keeps it. */
function exifOf(format: string, image: Buffer): Buffer | undefined {
  const marker = { jpeg: 'Exif\0\0', png: 'eXIf', webp: 'EXIF' }[format]!
  const at = image.indexOf(marker, 0, 'latin1')
  if (at === -1) return undefined
  // After the JPEG marker comes the TIFF; after a PNG chunk type, its body; after a RIFF fourcc, the size, then the body.
  return image.subarray(at + { jpeg: 0, png: 4, webp: 8 }[format]!)
}

const samples = [
  ['JPEG', 'jpeg', jpegWithMetadata],
  ['PNG', 'png', pngWithMetadata],
  ['WebP', 'webp', webpWithMetadata],
] as const

describe('privacy by default: location and camera metadata are removed on save', () => {
  it.each(samples)('a %s with GPS, a camera serial, XMP and a comment is stored without them, keeping its orientation', async (_name, format, make) => {
    const backend = createPixstoreBackend({ dataDir: data.dir })
    try {
      const original = make(6)
      // WebP has no comment chunk: the other markers are all there.
      expect(privateMarkers.filter((marker) => original.includes(marker)).length).toBeGreaterThanOrEqual(format === 'webp' ? 4 : 5)
      const image = await stored(backend, original)
      for (const marker of privateMarkers) expect(image.includes(marker), marker).toBe(false)
      expect(image.includes(Buffer.from([0x88, 0x25]))).toBe(false) // the GPS IFD pointer tag
      expect(readOrientation(exifOf(format, image)!)).toBe(6)
      // What is stored is a well-formed image of the same size, with nothing left to strip.
      const walked = inspectImage(image, false)
      expect(walked).toMatchObject({ format, width: 96, height: 64 })
      expect(Buffer.from(walked.stripped).equals(image)).toBe(true)
      // The record tells the stored size.
      expect(backend.getImageRecord((await backend.saveImage(original))!.id)!.bytes).toBe(image.length)
    } finally {
      await backend.close()
    }
  })

  it.each(samples)('a %s in its normal orientation keeps no EXIF at all', async (_name, format, make) => {
    const backend = createPixstoreBackend({ dataDir: data.dir })
    try {
      expect(exifOf(format, await stored(backend, make(1)))).toBeUndefined()
    } finally {
      await backend.close()
    }
  })

  it.each(samples)('keepMetadata: true stores a %s exactly as given', async (_name, _format, make) => {
    const backend = createPixstoreBackend({ dataDir: data.dir, keepMetadata: true })
    try {
      const original = make(6)
      expect((await stored(backend, original)).equals(original)).toBe(true)
    } finally {
      await backend.close()
    }
  })
})
