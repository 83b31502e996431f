// Markup that a browser or a mis-set Content-Type could run. Metadata is removed on save
// (unless kept), but a polyglot also hides in pixel data (a PNG's stored deflate blocks
// carry raw bytes), so the whole file is searched. Only patterns long enough never to
// occur by chance in compressed data are used.

// Elements that run script or pull in active content, with or without a namespace prefix
// (`<h:script>`), followed by a space, `/` or `>`.
const elements = ['script', 'html', 'svg', 'iframe', 'body', 'object', 'embed', 'frameset', 'foreignobject', 'math', 'style', 'template', 'xml-stylesheet']
const openers = ['!doctype', '?php', '?xml-stylesheet', '!entity']
const lower = (c: number) => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c)
const isNameChar = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e
const isTagEnd = (c: number | undefined) => c === undefined || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c || c === 0x2f || c === 0x3e

/** The lower-case name at `at` (letters, digits, `- _ .`), at most 40 characters. */
function nameAt(b: Uint8Array, at: number): string {
  let name = ''
  for (let i = at; i < b.length && name.length < 40 && isNameChar(lower(b[i]!)); i++) name += String.fromCharCode(lower(b[i]!))
  return name
}

/**
 * Where the next `byte` at or after `from` is, or `limit` if there is none before it: a
 * native search that never looks past `limit` (searching to the end of the file for every
 * tag would make a file of many tags quadratic to check).
 */
function nextByte(b: Uint8Array, byte: number, from: number, limit: number): number {
  if (from >= limit) return limit
  const at = b.subarray(from, limit).indexOf(byte)
  return at === -1 ? limit : from + at
}

/** Whether a tag opened at `lt` carries an event handler attribute (`onerror=`, `onload =`) before it closes. */
function hasEventHandler(b: Uint8Array, lt: number): boolean {
  // The tag ends at the next `>` or `<`, or after 512 bytes; an attribute name starts with `o` or `O`.
  const limit = Math.min(b.length, lt + 512)
  const close = nextByte(b, 0x3c, lt + 2, nextByte(b, 0x3e, lt + 2, limit))
  for (const o of [0x6f, 0x4f]) {
    for (let i = nextByte(b, o, lt + 2, close); i < close; i = nextByte(b, o, i + 1, close)) {
      const before = b[i - 1]
      if ((before === 0x20 || before === 0x09 || before === 0x0a || before === 0x0d || before === 0x2f) && lower(b[i + 1]!) === 0x6e) {
        const name = nameAt(b, i)
        let j = i + name.length
        while (b[j] === 0x20 || b[j] === 0x09) j++
        if (name.length >= 5 && /^on[a-z]+$/.test(name) && b[j] === 0x3d) return true
      }
    }
  }
  return false
}

/** Whether `b` carries HTML, SVG, XML processing or script markup anywhere. */
export function carriesMarkup(b: Uint8Array): boolean {
  for (let lt = b.indexOf(0x3c); lt !== -1; lt = b.indexOf(0x3c, lt + 1)) {
    const next = b[lt + 1]
    if (next === 0x21 || next === 0x3f) {
      const word = String.fromCharCode(next) + nameAt(b, lt + 2)
      if (openers.some((opener) => word === opener || (opener.startsWith('?xml') && word.startsWith(opener)))) return true
      continue
    }
    let name = nameAt(b, lt + 1)
    // A tag name starts with a letter: `<3` or `< 2` is text to every HTML parser.
    if (!/^[a-z]/.test(name)) continue
    let end = lt + 1 + name.length
    // A namespace prefix: `<h:script>` is a script element to an XML parser.
    if (b[end] === 0x3a) {
      const local = nameAt(b, end + 1)
      end += 1 + local.length
      name = local
    }
    if (elements.includes(name) && isTagEnd(b[end])) return true
    if (hasEventHandler(b, lt)) return true
  }
  return false
}

/** Whether `b` is text starting with markup (SVG, HTML or XML), a byte-order mark and spaces aside. */
export function looksLikeMarkup(b: Uint8Array): boolean {
  let i = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++
  return b[i] === 0x3c
}
