import { keysOfImage, nextUseTime, ownCopy, type CachedImage, type CacheLimits, type ImageCache } from './image-cache.js'
import { ALL, BLOBS, ENTRIES, TOTALS, TOTALS_KEY, openDatabase, type BlobRow, type EntryRow, type Totals } from './indexeddb-schema.js'

// Three stores: `blobs` holds each id's token and ciphertext; `entries` holds small rows
// (id, token, size, lastUsed) indexed by lastUsed, so eviction decides from the small rows
// and never reads a ciphertext; `totals` holds one row with the entry count and byte total,
// updated in the same transaction as every change, so no operation counts the cache.
// Ciphertext is stored as an ArrayBuffer: some browsers refuse Blob values (Safari private mode).
// Eviction runs in transactions of this many entries, so that reads get in between.
const EVICTION_BATCH = 200

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

  const used = (id: string, row: BlobRow | undefined): CachedImage | undefined => {
    if (!row) return undefined
    touched.set(id, nextUseTime())
    touchTimer ??= setTimeout(() => {
      touchTimer = undefined
      inBackground(flushTouches)
    }, 1000)
    return { token: row.token, ciphertext: new Uint8Array(row.data) }
  }

  return {
    async getMany(ids) {
      const tx = await transaction([BLOBS], 'readonly')
      const store = tx.objectStore(BLOBS)
      const rows = await Promise.all(ids.map((id) => request(store.get(id)) as Promise<BlobRow | undefined>))
      return rows.map((row, i) => used(ids[i]!, row))
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
      const range = IDBKeyRange.bound(...keysOfImage(id))
      const previous = (await request(tx.objectStore(ENTRIES).getAll(range))) as EntryRow[]
      if (previous.length > 0) {
        const totals = await readTotals(tx.objectStore(TOTALS))
        const size = previous.reduce((sum, row) => sum + row.size, 0)
        tx.objectStore(TOTALS).put({ entries: totals.entries - previous.length, bytes: totals.bytes - size }, TOTALS_KEY)
      }
      tx.objectStore(BLOBS).delete(range)
      tx.objectStore(ENTRIES).delete(range)
      for (const row of previous) touched.delete(row.id)
      await done
      return previous.length > 0
    },
    async has(id) {
      const tx = await transaction([ENTRIES], 'readonly')
      return (await request(tx.objectStore(ENTRIES).count(IDBKeyRange.bound(...keysOfImage(id))))) > 0
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
