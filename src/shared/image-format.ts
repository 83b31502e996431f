import { PixstoreError } from './errors.js'

/** The image formats Pixstore stores. */
export type ImageFormat = 'png' | 'webp' | 'jpeg' | 'gif' | 'avif'

/**
 * The format names pixstore 3.x's `imageFormats` option took. Pixstore stores those that
 * name one of its formats (`jpg`, `jfif`, `pjpeg` and `pjp` are JPEG, `apng` is PNG); an
 * image of any other is refused as it is today.
 */
export type LegacyImageFormat =
  | 'jpeg' | 'jpg' | 'png' | 'webp' | 'gif' | 'bmp' | 'tiff' | 'tif' | 'ico' | 'svg' | 'avif' | 'heif' | 'heic' | 'jfif'
  | 'pjpeg' | 'pjp' | 'apng' | 'raw' | 'emf' | 'wmf' | 'cur' | 'dds' | 'icns' | 'ras' | 'sgi' | 'tga' | 'xbm' | 'xpm'

/**
 * Which formats are accepted and the byte each gets: the first plaintext byte inside every
 * encrypted image, which the browser reads back to type the `Blob`.
 */
export interface FormatTable {
  /** The byte of `format`, or `undefined` if it is not accepted. */
  toByte(format: ImageFormat): number | undefined
  /** The format a byte names, or `undefined` for an unknown byte. */
  fromByte(byte: number): ImageFormat | undefined
}

// Pixstore's own numbering. It agrees with pixstore 3.x's default list (png, webp, jpg,
// jpeg), so 4, its spelling "jpeg", is read as JPEG too.
const byteOf: Record<ImageFormat, number> = { png: 1, webp: 2, jpeg: 3, gif: 5, avif: 6 }
const formatOf: Readonly<Record<number, ImageFormat>> = { 1: 'png', 2: 'webp', 3: 'jpeg', 4: 'jpeg', 5: 'gif', 6: 'avif' }

/** Every format Pixstore stores, with its own bytes. */
export const defaultFormats: FormatTable = {
  toByte: (format) => byteOf[format],
  fromByte: (byte) => formatOf[byte],
}

const legacyNames: Readonly<Record<string, ImageFormat>> = {
  png: 'png', apng: 'png', webp: 'webp', gif: 'gif', avif: 'avif',
  jpeg: 'jpeg', jpg: 'jpeg', jfif: 'jpeg', pjpeg: 'jpeg', pjp: 'jpeg',
}

/**
 * The table of a pixstore 3.x `imageFormats` list, numbered as 3.x numbered it: the entry
 * at index i is byte i + 1. Only the formats listed are accepted; `unstorable` lists the
 * entries Pixstore has no format for (their images are refused).
 *
 * @throws PixstoreError `INVALID_CONFIG` for a list that is empty or holds a non-string.
 */
export function formatsFromList(list: unknown, where: string): { formats: FormatTable; unstorable: string[] } {
  if (!Array.isArray(list) || list.length === 0 || list.length > 255 || !list.every((name) => typeof name === 'string')) {
    throw new PixstoreError('INVALID_CONFIG', `${where}: "imageFormats" must be a non-empty list of format names such as ["png", "webp", "jpg"]`)
  }
  const names = (list as string[]).map((name) => name.toLowerCase())
  const toByte = new Map<ImageFormat, number>()
  const fromByte = new Map<number, ImageFormat>()
  names.forEach((name, index) => {
    const format = legacyNames[name]
    if (!format) return
    fromByte.set(index + 1, format)
    if (!toByte.has(format)) toByte.set(format, index + 1)
  })
  return {
    formats: { toByte: (format) => toByte.get(format), fromByte: (byte) => fromByte.get(byte) },
    unstorable: names.filter((name) => !legacyNames[name]),
  }
}

/** The MIME type of a format, as a returned `Blob`'s `type`. */
export function mimeTypeOf(format: ImageFormat): string {
  return `image/${format}`
}
