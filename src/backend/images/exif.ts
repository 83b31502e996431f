import { ascii, u16be, u16le, u32be, u32le } from './binary.js'

/**
 * The orientation (1 to 8) an EXIF block gives its image, or `undefined`. Takes the TIFF
 * structure itself or one behind an `Exif\0\0` prefix, in either byte order.
 */
export function readOrientation(data: Uint8Array): number | undefined {
  const tiff = ascii(data, 0, 'Exif\0\0') ? data.subarray(6) : data
  if (tiff.length < 8) return undefined
  const little = ascii(tiff, 0, 'II')
  if (!little && !ascii(tiff, 0, 'MM')) return undefined
  const u16 = little ? u16le : u16be
  const u32 = little ? u32le : u32be
  if (u16(tiff, 2) !== 42) return undefined
  const ifd = u32(tiff, 4)
  if (ifd + 2 > tiff.length) return undefined
  const count = u16(tiff, ifd)
  for (let k = 0; k < count; k++) {
    const entry = ifd + 2 + 12 * k
    if (entry + 12 > tiff.length) return undefined
    if (u16(tiff, entry) === 0x0112) {
      const value = u16(tiff, entry + 8)
      return value >= 1 && value <= 8 ? value : undefined
    }
  }
  return undefined
}

/** A TIFF structure holding the orientation alone: all the EXIF that display needs. */
export function orientationOnlyTiff(orientation: number): Uint8Array {
  const tiff = new Uint8Array(26)
  const view = new DataView(tiff.buffer)
  tiff.set([0x4d, 0x4d, 0x00, 0x2a]) // "MM", 42
  view.setUint32(4, 8) // IFD0 right after the header
  view.setUint16(8, 1) // one entry
  view.setUint16(10, 0x0112) // Orientation
  view.setUint16(12, 3) // SHORT
  view.setUint32(14, 1) // one value
  view.setUint16(18, orientation)
  view.setUint32(22, 0) // no next IFD
  return tiff
}
