import { thumbHashToDataURL } from 'thumbhash'
import { fromBase64 } from '../shared/base64.js'
import type { ImageRecord } from '../types/index.js'

const decoded = new Map<string, string | undefined>()

/**
 * A `data:` URL of the record's placeholder (a small blurred PNG decoded from its ThumbHash),
 * made without any request; `undefined` when the record has none or it is malformed.
 */
export function placeholderURL(record: ImageRecord | null | undefined): string | undefined {
  const hash = record?.placeholder
  if (typeof hash !== 'string') return undefined
  if (!decoded.has(hash)) {
    let url: string | undefined
    try {
      const bytes = fromBase64(hash)
      url = bytes && bytes.length >= 5 && bytes.length <= 64 ? thumbHashToDataURL(bytes) : undefined
    } catch {
      url = undefined
    }
    // A page shows a bounded number of images: the decoded URLs are kept while it lives.
    if (decoded.size > 2000) decoded.clear()
    decoded.set(hash, url)
  }
  return decoded.get(hash)
}

/**
 * The size of the record's image as shown, in pixels: its own size, turned when its variants
 * (made the right way up) show that its EXIF orientation turns it; `undefined` when unknown.
 */
export function shownSize(record: ImageRecord | null | undefined): { width: number; height: number } | undefined {
  const { width, height } = record ?? {}
  if (typeof width !== 'number' || typeof height !== 'number' || width <= 0 || height <= 0) return undefined
  const widest = record?.variants?.reduce((a, b) => (b.width > a.width ? b : a))
  const turned = widest !== undefined && width !== height && Math.abs(widest.width / widest.height - height / width) < Math.abs(widest.width / widest.height - width / height)
  return turned ? { width: height, height: width } : { width, height }
}
