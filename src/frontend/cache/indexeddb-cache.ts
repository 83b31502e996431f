import { nextUseTime, ownCopy, type CachedImage, type CacheLimits, type ImageCache } from './image-cache.js'

// Three stores: `blobs` holds each id's token and ciphertext; `entries` holds small rows
// (id, token, size, lastUsed) indexed by lastUsed, so eviction decides from the small rows
// and never reads a ciphertext; `totals` holds one row with the entry count and byte total,
// updated in the same transaction as every change, so no operation counts the cache.
// Ciphertext is stored as an ArrayBuffer: some browsers refuse Blob values (Safari private mode).
const VERSION = 2
const BLOBS = 'blobs'
const ENTRIES = 'entries'
const TOTALS = 'totals'
const ALL = [BLOBS, ENTRIES, TOTALS]
const TOTALS_KEY = 'all'
// Eviction runs in transactions of this many entries, so that reads get in between.
const EVICTION_BATCH = 200

interface BlobRow {
  token: number
  data: ArrayBuffer
}

interface EntryRow {
  id: string
  token: number
  size: number
  lastUsed: number
}

interface Totals {
  entries: number
  bytes: number
}

const request = <T>(req: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })

const completion = (tx: IDBTransaction) =>
  new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(tx.error)
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
  })

// An open that another tab blocks (it holds an older version open and ignores the version
// change) or that the browser is slow to answer gives up after this long, and the page
// uses the in-memory cache instead.
export const OPEN_TIMEOUT_MS = 1500

/** Whether `db` has this cache's stores and index; a database left by pixstore 3.x or anything else has not. */
function isOwnSchema(db: IDBDatabase): boolean {
  const names = db.objectStoreNames
  if (!ALL.every((name) => names.contains(name)) || names.length !== ALL.length) return false
  return db.transaction(ENTRIES, 'readonly').objectStore(ENTRIES).indexNames.contains('lastUsed')
}

function upgrade(db: IDBDatabase, tx: IDBTransaction, oldVersion: number): void {
  // An older or foreign schema under this name (pixstore 3.x kept one `images` store at
  // version 1) is not upgraded in place: it is cleared and made anew. Only ciphertext is
  // lost, and it is fetched again.
  const known = oldVersion === 0 || (oldVersion === 1 && db.objectStoreNames.length === 2 && [BLOBS, ENTRIES].every((n) => db.objectStoreNames.contains(n)))
  if (!known) {
    for (const name of Array.from(db.objectStoreNames)) db.deleteObjectStore(name)
    oldVersion = 0
  }
  if (oldVersion < 1) {
    db.createObjectStore(BLOBS)
    db.createObjectStore(ENTRIES, { keyPath: 'id' }).createIndex('lastUsed', 'lastUsed')
  }
  if (oldVersion < 2) {
    const totals = db.createObjectStore(TOTALS)
    const sum: Totals = { entries: 0, bytes: 0 }
    const cursor = tx.objectStore(ENTRIES).openCursor()
    cursor.onsuccess = () => {
      const c = cursor.result
      if (!c) return void totals.put(sum, TOTALS_KEY)
      sum.entries++
      sum.bytes += (c.value as EntryRow).size
      c.continue()
    }
  }
}

/** Opens one request, settling within {@link OPEN_TIMEOUT_MS}; a late success is closed at once. */
function openOnce(name: string, version?: number): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    let settled = false
    const req = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version)
    const timer = setTimeout(() => {
      settled = true
      reject(new Error(`opening IndexedDB "${name}" took over ${OPEN_TIMEOUT_MS} ms (another tab may hold an older version open)`))
    }, OPEN_TIMEOUT_MS)
    req.onupgradeneeded = (event) => upgrade(req.result, req.transaction!, event.oldVersion)
    req.onsuccess = () => {
      clearTimeout(timer)
      if (settled) req.result.close()
      else resolve(req.result)
      settled = true
    }
    req.onerror = () => {
      clearTimeout(timer)
      if (!settled) reject(req.error ?? new Error(`opening IndexedDB "${name}" failed`))
      settled = true
    }
  })
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name)
    const timer = setTimeout(() => reject(new Error(`deleting IndexedDB "${name}" was blocked`)), OPEN_TIMEOUT_MS)
    req.onsuccess = () => (clearTimeout(timer), resolve())
    req.onerror = () => (clearTimeout(timer), reject(req.error ?? new Error(`deleting IndexedDB "${name}" failed`)))
  })
}

/**
 * Opens the cache's database at this version. A database under the same name at a newer
 * version, or at this version with other stores (not written by this cache), is deleted
 * and made anew: the name is the cache's, and what it held was ciphertext.
 */
async function openDatabase(name: string): Promise<IDBDatabase> {
  let db: IDBDatabase
  try {
    db = await openOnce(name, VERSION)
  } catch (error) {
    if ((error as DOMException | undefined)?.name !== 'VersionError') throw error
    await deleteDatabase(name)
    return openOnce(name, VERSION)
  }
  if (isOwnSchema(db)) return db
  db.close()
  await deleteDatabase(name)
  return openOnce(name, VERSION)
}

/**
 * Opens the IndexedDB cache. Rejects where IndexedDB is missing or refuses to open
 * (blocked, private modes), so that the caller can fall back to memory.
 */
export async function openIndexedDbCache(name: string, limits: CacheLimits): Promise<ImageCache> {
  if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available')
  const open = () => openDatabase(name)
  let db: IDBDatabase | undefined = await open()
  const watch = (handle: IDBDatabase) => {
    // Another tab wants a newer schema: let it go ahead, and open again on the next use.
    handle.onversionchange = () => {
      handle.close()
      if (db === handle) db = undefined
    }
  }
  watch(db)
  const transaction = async (stores: string[], mode: IDBTransactionMode) => {
    if (!db) {
      db = await open()
      watch(db)
    }
    return db.transaction(stores, mode)
  }

  // A cache hit only reads. Its new use time waits here and is written in one batch
  // with the next write, or a moment later, so that a hit never rewrites anything.
  const touched = new Map<string, number>()
  let touchTimer: ReturnType<typeof setTimeout> | undefined
  let background: Promise<void> = Promise.resolve()
  const inBackground = (work: () => Promise<void>) => {
    background = background.then(work).catch(() => undefined)
  }

  function writeTouches(entries: IDBObjectStore): void {
    for (const [id, lastUsed] of touched) {
      const req = entries.get(id)
      req.onsuccess = () => {
        const row = req.result as EntryRow | undefined
        if (row && row.lastUsed < lastUsed) entries.put({ ...row, lastUsed })
      }
    }
    touched.clear()
  }

  const flushTouches = async () => {
    if (touched.size === 0) return
    const tx = await transaction([ENTRIES], 'readwrite')
    writeTouches(tx.objectStore(ENTRIES))
    await completion(tx)
  }

  async function readTotals(store: IDBObjectStore): Promise<Totals> {
    return ((await request(store.get(TOTALS_KEY))) as Totals | undefined) ?? { entries: 0, bytes: 0 }
  }

  // Evicts least recently used entries in small transactions until the cache is within its
  // limits, or until `extraBytes` more are free (to make room after a quota error).
  async function evict(extraBytes = 0): Promise<void> {
    await flushTouches()
    for (;;) {
      const tx = await transaction(ALL, 'readwrite')
      const done = completion(tx)
      const totalsStore = tx.objectStore(TOTALS)
      const totals = await readTotals(totalsStore)
      let freed = 0
      const over = () => totals.entries > limits.maxEntries || totals.bytes > limits.maxBytes || freed < extraBytes
      let removed = 0
      if (over()) {
        const rows = (await request(tx.objectStore(ENTRIES).index('lastUsed').getAll(null, EVICTION_BATCH))) as EntryRow[]
        for (const row of rows) {
          if (!over()) break
          tx.objectStore(ENTRIES).delete(row.id)
          tx.objectStore(BLOBS).delete(row.id)
          totals.entries--
          totals.bytes -= row.size
          freed += row.size
          removed++
        }
        totalsStore.put(totals, TOTALS_KEY)
      }
      await done
      if (removed === 0 || !over()) return
      extraBytes -= freed
    }
  }

  async function write(id: string, image: CachedImage): Promise<void> {
    const tx = await transaction(ALL, 'readwrite')
    const done = completion(tx)
    try {
      const blobs = tx.objectStore(BLOBS)
      const entries = tx.objectStore(ENTRIES)
      const totalsStore = tx.objectStore(TOTALS)
      writeTouches(entries)
      const [previous, totals] = await Promise.all([request(entries.get(id)) as Promise<EntryRow | undefined>, readTotals(totalsStore)])
      if (previous) {
        totals.entries--
        totals.bytes -= previous.size
      }
      const size = image.ciphertext.byteLength
      if (limits.maxEntries === 0 || size > limits.maxBytes) {
        blobs.delete(id)
        entries.delete(id)
      } else {
        // A copy into its own buffer: a view would make IndexedDB clone its whole backing buffer.
        blobs.put({ token: image.token, data: ownCopy(image.ciphertext).buffer } satisfies BlobRow, id)
        entries.put({ id, token: image.token, size, lastUsed: nextUseTime() } satisfies EntryRow)
        totals.entries++
        totals.bytes += size
      }
      totalsStore.put(totals, TOTALS_KEY)
      if (totals.entries > limits.maxEntries || totals.bytes > limits.maxBytes) inBackground(() => evict())
    } catch (error) {
      done.catch(() => undefined)
      if (!tx.error) tx.abort()
      throw error
    }
    await done
  }

  return {
    async get(id) {
      const tx = await transaction([BLOBS], 'readonly')
      const row = (await request(tx.objectStore(BLOBS).get(id))) as BlobRow | undefined
      if (!row) return undefined
      touched.set(id, nextUseTime())
      touchTimer ??= setTimeout(() => {
        touchTimer = undefined
        inBackground(flushTouches)
      }, 1000)
      return { token: row.token, ciphertext: new Uint8Array(row.data) }
    },
    async put(id, image) {
      try {
        await write(id, image)
      } catch (error) {
        if ((error as { name?: unknown } | null)?.name !== 'QuotaExceededError') throw error
        // Out of storage: drop least recently used entries worth at least this image, then
        // try once more. A second failure reaches the caller, which serves the image uncached.
        await background
        await evict(Math.max(image.ciphertext.byteLength, 1))
        await write(id, image)
      }
    },
    async delete(id) {
      await background
      const tx = await transaction(ALL, 'readwrite')
      const done = completion(tx)
      const previous = (await request(tx.objectStore(ENTRIES).get(id))) as EntryRow | undefined
      if (previous) {
        const totals = await readTotals(tx.objectStore(TOTALS))
        tx.objectStore(TOTALS).put({ entries: totals.entries - 1, bytes: totals.bytes - previous.size }, TOTALS_KEY)
      }
      tx.objectStore(BLOBS).delete(id)
      tx.objectStore(ENTRIES).delete(id)
      touched.delete(id)
      await done
      return previous !== undefined
    },
    async has(id) {
      const tx = await transaction([ENTRIES], 'readonly')
      return (await request(tx.objectStore(ENTRIES).count(id))) > 0
    },
    async stats() {
      const tx = await transaction([TOTALS], 'readonly')
      return readTotals(tx.objectStore(TOTALS))
    },
    async clear() {
      await background
      touched.clear()
      const tx = await transaction(ALL, 'readwrite')
      const done = completion(tx)
      tx.objectStore(BLOBS).clear()
      tx.objectStore(ENTRIES).clear()
      tx.objectStore(TOTALS).put({ entries: 0, bytes: 0 }, TOTALS_KEY)
      await done
    },
    async idle() {
      await background
      await flushTouches()
    },
  }
}
