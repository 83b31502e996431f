import jpeg from 'jpeg-js'
import { encodePng } from '../../demo/sample-images.js'

/** The three image sizes every workload runs at. */
export interface BenchImage {
  label: string
  format: 'png' | 'jpeg'
  bytes: Buffer
}

// A deterministic pseudo-random texture, so that the encoders cannot squeeze it much and
// each run measures the same bytes.
function texture(width: number, height: number, seed: number, channels: 3 | 4): Uint8Array {
  const pixels = new Uint8Array(width * height * channels)
  let s = seed >>> 0
  for (let i = 0; i < pixels.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    const base = ((i / channels) % width) / width
    pixels[i] = channels === 4 && i % 4 === 3 ? 255 : (base * 128 + (s >>> 25)) & 255
  }
  return pixels
}

/** About 20 KB PNG, 500 KB JPEG and 5 MB JPEG, generated here. */
export function benchImages(): BenchImage[] {
  const png = encodePng(80, 80, texture(80, 80, 1, 3))
  const jpg = (w: number, h: number, quality: number) =>
    Buffer.from(jpeg.encode({ data: texture(w, h, 2, 4), width: w, height: h }, quality).data)
  const medium = jpg(680, 480, 92)
  const large = jpg(2020, 1360, 95)
  return [
    { label: `${Math.round(png.length / 1000)}KB png`, format: 'png', bytes: png },
    { label: `${Math.round(medium.length / 1000)}KB jpg`, format: 'jpeg', bytes: medium },
    { label: `${(large.length / 1e6).toFixed(1)}MB jpg`, format: 'jpeg', bytes: large },
  ]
}
