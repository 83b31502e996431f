import { ascii, latin1, malformed, u16be, u32be, uintBe, type WalkedImage } from './binary.js'

interface Box {
  type: string
  /** Where the box's content starts (after its header). */
  body: number
  end: number
}

/** The boxes in `[start, end)`, which they must cover exactly. */
function boxes(b: Uint8Array, start: number, end: number, fail: (why: string) => Error): Box[] {
  const found: Box[] = []
  for (let i = start; i < end; ) {
    if (i + 8 > end) throw fail('a box is cut short')
    let size = u32be(b, i)
    let header = 8
    if (size === 1) {
      if (i + 16 > end) throw fail('a box is cut short')
      size = uintBe(b, i + 8, 8)
      header = 16
    } else if (size === 0) size = end - i
    if (size < header || i + size > end) throw fail('a box does not fit in its parent')
    found.push({ type: latin1(b, i + 4, 4), body: i + header, end: i + size })
    i += size
  }
  return found
}

const child = (list: Box[], type: string) => list.find((box) => box.type === type)

interface Item {
  type: string
  contentType?: string
}

/** `infe` entries of an `iinf` box (version 2 and 3, the ones HEIF allows for images). */
function items(b: Uint8Array, iinf: Box, fail: (why: string) => Error): Map<number, Item> {
  const version = b[iinf.body]!
  const first = iinf.body + 4 + (version === 0 ? 2 : 4)
  const found = new Map<number, Item>()
  for (const infe of boxes(b, first, iinf.end, fail)) {
    if (infe.type !== 'infe') continue
    const v = b[infe.body]!
    if (v < 2) continue
    let at = infe.body + 4
    const id = v === 2 ? u16be(b, at) : u32be(b, at)
    at += (v === 2 ? 2 : 4) + 2
    const type = latin1(b, at, 4)
    at += 4
    const nameEnd = b.indexOf(0, at)
    let contentType: string | undefined
    if (type === 'mime' && nameEnd !== -1 && nameEnd < infe.end) {
      const typeEnd = b.indexOf(0, nameEnd + 1)
      contentType = latin1(b, nameEnd + 1, (typeEnd === -1 || typeEnd > infe.end ? infe.end : typeEnd) - nameEnd - 1)
    }
    found.set(id, { type, contentType })
  }
  return found
}

/** The property indexes (1-based into `ipco`) associated with each item by `ipma`. */
function associations(b: Uint8Array, ipma: Box): Map<number, number[]> {
  const version = b[ipma.body]!
  const wide = (b[ipma.body + 3]! & 1) === 1
  let at = ipma.body + 4
  const count = u32be(b, at)
  at += 4
  const found = new Map<number, number[]>()
  for (let e = 0; e < count && at < ipma.end; e++) {
    const id = version < 1 ? u16be(b, at) : u32be(b, at)
    at += version < 1 ? 2 : 4
    const n = b[at++]!
    const indexes: number[] = []
    for (let k = 0; k < n; k++) {
      indexes.push(wide ? u16be(b, at) & 0x7fff : b[at]! & 0x7f)
      at += wide ? 2 : 1
    }
    found.set(id, indexes)
  }
  return found
}

/** Each item's data ranges in the file, from `iloc` (offsets in the file, or in `idat`). */
function locations(b: Uint8Array, iloc: Box, idat: Box | undefined): Map<number, [number, number][]> {
  const version = b[iloc.body]!
  let at = iloc.body + 4
  const offsetSize = b[at]! >> 4
  const lengthSize = b[at]! & 15
  const baseSize = b[at + 1]! >> 4
  const indexSize = version >= 1 ? b[at + 1]! & 15 : 0
  at += 2
  const count = version < 2 ? u16be(b, at) : u32be(b, at)
  at += version < 2 ? 2 : 4
  const found = new Map<number, [number, number][]>()
  for (let n = 0; n < count && at < iloc.end; n++) {
    const id = version < 2 ? u16be(b, at) : u32be(b, at)
    at += version < 2 ? 2 : 4
    const method = version >= 1 ? u16be(b, at) & 15 : 0
    if (version >= 1) at += 2
    at += 2 // data reference index
    const base = uintBe(b, at, baseSize)
    at += baseSize
    const extents = u16be(b, at)
    at += 2
    const ranges: [number, number][] = []
    for (let e = 0; e < extents; e++) {
      at += indexSize
      const offset = uintBe(b, at, offsetSize)
      at += offsetSize
      const length = uintBe(b, at, lengthSize)
      at += lengthSize
      const origin = method === 1 && idat ? idat.body : 0
      if (method <= 1) ranges.push([origin + base + offset, origin + base + offset + length])
    }
    found.set(id, ranges)
  }
  return found
}

/**
 * Walks an AVIF (HEIF) file: the top-level boxes cover it exactly, the brand is AVIF, and
 * the size is the primary item's, found through `pitm`, `iinf` and `ipma` to its `ispe`
 * property (never the first `ispe` found anywhere). Every `ispe` counts towards the canvas.
 * EXIF and XMP items are metadata: their bytes are overwritten with zeros, which keeps
 * every offset in the file valid (AVIF decoders take orientation from `irot`/`imir`, which
 * stay). Returns `undefined` for bytes that are not an AVIF at all.
 *
 * @throws PixstoreError `INVALID_IMAGE` saying what is broken.
 */
export function walkAvif(b: Uint8Array, keepMetadata: boolean): WalkedImage | undefined {
  if (b.length < 16 || !ascii(b, 4, 'ftyp')) return undefined
  const fail = (why: string) => malformed('AVIF', why)
  const top = boxes(b, 0, b.length, fail)
  const ftyp = top[0]!
  let brand = false
  for (let i = ftyp.body; i + 4 <= ftyp.end; i += 4) if (ascii(b, i, 'avif') || ascii(b, i, 'avis')) brand = true
  if (!brand) return undefined
  const meta = child(top, 'meta')
  if (!meta) throw fail('it has no meta box')
  const inMeta = boxes(b, meta.body + 4, meta.end, fail)
  const pitm = child(inMeta, 'pitm')
  const iinf = child(inMeta, 'iinf')
  const iprp = child(inMeta, 'iprp')
  if (!pitm || !iinf || !iprp) throw fail('its meta box lacks pitm, iinf or iprp')
  const primary = b[pitm.body] === 0 ? u16be(b, pitm.body + 4) : u32be(b, pitm.body + 4)
  const itemList = items(b, iinf, fail)
  if (!itemList.has(primary)) throw fail('its primary item is not listed')
  const inIprp = boxes(b, iprp.body, iprp.end, fail)
  const ipco = child(inIprp, 'ipco')
  if (!ipco) throw fail('it has no property container')
  const properties = boxes(b, ipco.body, ipco.end, fail)
  const sizes = properties.map((p) => (p.type === 'ispe' && p.body + 12 <= p.end ? { width: u32be(b, p.body + 4), height: u32be(b, p.body + 8) } : undefined))
  const associated = new Map<number, number[]>()
  for (const ipma of inIprp.filter((box) => box.type === 'ipma')) for (const [id, list] of associations(b, ipma)) associated.set(id, list)
  const size = (associated.get(primary) ?? []).map((index) => sizes[index - 1]).find((s) => s !== undefined)
  if (!size) throw fail('its primary item has no size (ispe)')
  const canvasPixels = Math.max(...sizes.map((s) => (s ? s.width * s.height : 0)))
  const walked = { format: 'avif' as const, width: size.width, height: size.height, canvasPixels }
  if (keepMetadata) return { ...walked, stripped: b }
  const metadataItems = [...itemList].filter(([, item]) => item.type === 'Exif' || (item.type === 'mime' && /xmp|rdf\+xml/i.test(item.contentType ?? '')))
  const iloc = child(inMeta, 'iloc')
  if (metadataItems.length === 0 || !iloc) return { ...walked, stripped: b }
  const located = locations(b, iloc, child(inMeta, 'idat'))
  const stripped = b.slice()
  for (const [id] of metadataItems) {
    for (const [from, to] of located.get(id) ?? []) {
      if (from < 0 || to > b.length || from > to) throw fail('a metadata item lies outside the file')
      stripped.fill(0, from, to)
    }
  }
  return { ...walked, stripped }
}
