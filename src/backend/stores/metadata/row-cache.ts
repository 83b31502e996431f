import type Database from 'better-sqlite3'
import type { StoredImage } from '../metadata-store.js'

/** What the cache keeps of one image: its row and, once asked for, its inline blob. */
interface Entry {
  image: StoredImage
  /** `undefined`: not read yet; `null`: the image has no inline blob. */
  blob?: Buffer | null
}

/** How much the cache keeps: rows, and bytes of inline blobs (a larger blob is never kept). */
export interface RowCacheLimits {
  rows: number
  blobBytes: number
  blobMaxBytes: number
}

const defaults: RowCacheLimits = { rows: 4096, blobBytes: 8 * 1024 * 1024, blobMaxBytes: 256 * 1024 }

// Cached rows are handed to every caller: frozen, so that none can change another's.
function freeze(image: StoredImage): StoredImage {
  if (image.variants) {
    for (const variant of image.variants) Object.freeze(variant)
    Object.freeze(image.variants)
  }
  return Object.freeze(image)
}

/**
 * The rows (and inline blobs) of images read lately, for the reads every request makes
 * (`getImageRecord`, the image route): a cached row costs one small query instead of a
 * row read and a blob copy. The cache is kept only while the database is unchanged: each
 * lookup first asks SQLite whether anything was committed since the last one, by another
 * connection or process (`data_version`) or by this connection (`total_changes()`), and
 * forgets everything if so. A reader therefore never sees a version older than the last
 * commit made before its lookup, as with no cache.
 */
export function createRowCache(db: Database.Database, limits: RowCacheLimits = defaults) {
  const changes = db.prepare<[], [number, number]>('SELECT data_version, total_changes() FROM pragma_data_version').raw()
  const entries = new Map<string, Entry>()
  let blobBytes = 0
  let dataVersion = -1
  let ownChanges = -1

  const forget = () => {
    entries.clear()
    blobBytes = 0
  }
  const checkUnchanged = () => {
    const [version, changed] = changes.get()!
    if (version === dataVersion && changed === ownChanges) return
    forget()
    dataVersion = version
    ownChanges = changed
  }
  const keep = (id: string, entry: Entry) => {
    const previous = entries.get(id)
    if (previous?.blob) blobBytes -= previous.blob.byteLength
    entries.delete(id)
    if (entry.blob && entry.blob.byteLength > Math.min(limits.blobMaxBytes, limits.blobBytes)) entry.blob = undefined
    if (entry.blob) blobBytes += entry.blob.byteLength
    entries.set(id, entry)
    // The oldest go first, past either limit.
    for (const [oldest, old] of entries) {
      if (entries.size <= limits.rows && blobBytes <= limits.blobBytes) break
      entries.delete(oldest)
      if (old.blob) blobBytes -= old.blob.byteLength
    }
  }

  return {
    /** The row of `id`, from the cache or from `read`. */
    row(id: string, read: () => StoredImage | undefined): StoredImage | undefined {
      // Inside a transaction a read may see what a rollback then undoes: never kept.
      if (db.inTransaction) return read()
      checkUnchanged()
      const cached = entries.get(id)
      if (cached) return cached.image
      const image = read()
      if (image) keep(id, { image: freeze(image) })
      return image
    },
    /** The row of `id` with its inline blob (`undefined` if it has none), from the cache or from `read`. The blob is shared: never change it. */
    withBlob(id: string, read: () => { image: StoredImage; blob: Buffer | undefined } | undefined) {
      if (db.inTransaction) return read()
      checkUnchanged()
      const cached = entries.get(id)
      if (cached && cached.blob !== undefined) return { image: cached.image, blob: cached.blob ?? undefined }
      const found = read()
      if (!found) return undefined
      const image = freeze(found.image)
      keep(id, { image, blob: found.blob ?? null })
      return { image, blob: found.blob }
    },
  }
}
