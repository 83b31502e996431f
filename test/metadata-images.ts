// Images that carry what a phone camera writes: EXIF with a GPS position, camera make and
// serial number, XMP, and comments; built from the plain fixtures, for the metadata tests.
import { pngChunk } from '../demo/sample-images.js'
import { fixture } from './helpers.js'

/** Strings that must not survive a save that strips metadata. */
export const privateMarkers = ['PIXCAM-SERIAL-4711', 'Home Street 12', 'GPS-LAT-51.5', 'adobe:ns:meta', 'secret comment']

/** A big-endian TIFF with IFD0 (orientation, camera make and serial, description) and a GPS IFD. */
export function cameraTiff(orientation: number): Buffer {
  const entries: [number, number, number, Buffer | number][] = []
  const strings: Buffer[] = []
  const tiff: Buffer[] = []
  // Layout: header (8), IFD0 with 5 entries (2 + 60 + 4), GPS IFD with 2 entries (2 + 24 + 4), then strings.
  const ifd0 = 8
  const gps = ifd0 + 2 + 5 * 12 + 4
  let data = gps + 2 + 2 * 12 + 4
  const ascii = (text: string) => {
    const bytes = Buffer.from(text + '\0', 'latin1')
    const at = data
    data += bytes.length
    strings.push(bytes)
    return { at, count: bytes.length }
  }
  const make = ascii('PixCam PIXCAM-SERIAL-4711')
  const description = ascii('Home Street 12')
  const latitude = ascii('GPS-LAT-51.5')
  entries.push([0x010e, 2, description.count, description.at])
  entries.push([0x010f, 2, make.count, make.at])
  entries.push([0x0112, 3, 1, orientation])
  entries.push([0x8825, 4, 1, gps])
  entries.push([0xa431, 2, make.count, make.at])
  const header = Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8])
  const ifd = (list: typeof entries) => {
    const out = Buffer.alloc(2 + list.length * 12 + 4)
    out.writeUInt16BE(list.length, 0)
    list.forEach(([tag, type, count, value], k) => {
      const at = 2 + 12 * k
      out.writeUInt16BE(tag, at)
      out.writeUInt16BE(type, at + 2)
      out.writeUInt32BE(count, at + 4)
      if (type === 3) out.writeUInt16BE(value as number, at + 8)
      else out.writeUInt32BE(value as number, at + 8)
    })
    return out
  }
  tiff.push(header, ifd(entries), ifd([[0x0001, 2, 2, 0x4e000000], [0x001b, 2, latitude.count, latitude.at]]), ...strings)
  return Buffer.concat(tiff)
}

const xmp = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description exif:GPSLatitude="51,30.0N"/></rdf:RDF></x:xmpmeta>'

function jpegSegment(marker: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4)
  head.writeUInt16BE(0xff00 | marker, 0)
  head.writeUInt16BE(body.length + 2, 2)
  return Buffer.concat([head, body])
}

/** sample.jpg with an EXIF segment (orientation, GPS, camera serial), XMP and a comment. */
export function jpegWithMetadata(orientation = 6): Buffer {
  const jpeg = fixture('sample.jpg')
  return Buffer.concat([
    jpeg.subarray(0, 2),
    jpegSegment(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), cameraTiff(orientation)])),
    jpegSegment(0xe1, Buffer.from(`http://ns.adobe.com/xap/1.0/\0${xmp}`, 'latin1')),
    jpegSegment(0xfe, Buffer.from('a secret comment', 'latin1')),
    jpeg.subarray(2),
  ])
}

/** sample.png with eXIf (orientation, GPS, camera serial), an XMP iTXt and a tEXt comment. */
export function pngWithMetadata(orientation = 6): Buffer {
  const png = fixture('sample.png')
  const afterHeader = 8 + 25
  return Buffer.concat([
    png.subarray(0, afterHeader),
    pngChunk('eXIf', cameraTiff(orientation)),
    pngChunk('iTXt', Buffer.from(`XML:com.adobe.xmp\0\0\0\0\0${xmp}`, 'latin1')),
    pngChunk('tEXt', Buffer.from('Comment\0a secret comment', 'latin1')),
    png.subarray(afterHeader),
  ])
}

function riffChunk(fourcc: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.write(fourcc, 0, 'latin1')
  head.writeUInt32LE(body.length, 4)
  return Buffer.concat([head, body, body.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)])
}

/** sample.webp made extended (VP8X) with EXIF (orientation, GPS, camera serial) and XMP chunks. */
export function webpWithMetadata(orientation = 6): Buffer {
  const simple = fixture('sample.webp')
  const bitstream = simple.subarray(12)
  const vp8x = Buffer.alloc(10)
  vp8x[0] = 0x08 | 0x04 // EXIF and XMP present
  vp8x.writeUIntLE(96 - 1, 4, 3)
  vp8x.writeUIntLE(64 - 1, 7, 3)
  const body = Buffer.concat([Buffer.from('WEBP'), riffChunk('VP8X', vp8x), bitstream, riffChunk('EXIF', cameraTiff(orientation)), riffChunk('XMP ', Buffer.from(xmp, 'latin1'))])
  const head = Buffer.alloc(8)
  head.write('RIFF', 0, 'latin1')
  head.writeUInt32LE(body.length, 4)
  return Buffer.concat([head, body])
}
