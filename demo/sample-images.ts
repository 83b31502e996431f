import { deflateSync } from 'node:zlib'

// The demo's sample pictures are drawn at first start, so the repository ships no image
// files: a small PNG encoder and a few shapes per picture.

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (const byte of bytes) c = crcTable[(c ^ byte) & 255]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** One PNG chunk: length, type, data and its CRC. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'ascii')
  out.set(data, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

/** Encodes RGB pixels (3 bytes each, row by row) as a PNG. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header[8] = 8 // bit depth
  header[9] = 2 // truecolour
  const raw = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', new Uint8Array()),
  ])
}

const hsl = (h: number, s: number, l: number): [number, number, number] => {
  const f = (n: number) => {
    const k = (n + h / 30) % 12
    return Math.round(255 * (l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1))))
  }
  return [f(0), f(8), f(4)]
}

/** Picture `index` of the demo: a gradient with rings and a disc, different for every index. */
export function samplePicture(index: number, size = 240): Buffer {
  const hue = (index * 137.5) % 360
  const [r1, g1, b1] = hsl(hue, 0.65, 0.55)
  const [r2, g2, b2] = hsl((hue + 60) % 360, 0.7, 0.3)
  const [r3, g3, b3] = hsl((hue + 180) % 360, 0.8, 0.85)
  const cx = size * (0.3 + ((index * 7) % 5) / 10)
  const cy = size * (0.3 + ((index * 3) % 5) / 10)
  const rgb = new Uint8Array(size * size * 3)
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = (x + y) / (2 * size)
      const d = Math.hypot(x - cx, y - cy)
      const ring = Math.sin(d / (4 + (index % 4))) > 0.6
      const disc = d < size * 0.18
      const o = (y * size + x) * 3
      rgb[o] = disc ? r3 : ring ? r2 : r1 + (r2 - r1) * t
      rgb[o + 1] = disc ? g3 : ring ? g2 : g1 + (g2 - g1) * t
      rgb[o + 2] = disc ? b3 : ring ? b2 : b1 + (b2 - b1) * t
    }
  }
  return encodePng(size, size, rgb)
}
