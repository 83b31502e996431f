/** The image formats Pixstore stores. */
export type ImageFormat = 'png' | 'webp' | 'jpeg' | 'gif' | 'avif'

// The first plaintext byte inside every encrypted image. 4 is an older spelling of JPEG
// ("jpg" and "jpeg" were once told apart) and is still read as JPEG.
const byteOf: Record<ImageFormat, number> = { png: 1, webp: 2, jpeg: 3, gif: 5, avif: 6 }
const formatOf: Readonly<Record<number, ImageFormat>> = { 1: 'png', 2: 'webp', 3: 'jpeg', 4: 'jpeg', 5: 'gif', 6: 'avif' }

/** The format byte written before the image bytes inside the encryption. */
export function formatToByte(format: ImageFormat): number {
  return byteOf[format]
}

/** The format named by a format byte, or `undefined` for an unknown byte. */
export function formatFromByte(byte: number): ImageFormat | undefined {
  return formatOf[byte]
}

/** The MIME type of a format, as a returned `Blob`'s `type`. */
export function mimeTypeOf(format: ImageFormat): string {
  return `image/${format}`
}
