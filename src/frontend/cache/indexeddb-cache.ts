import { nextUseTime, ownCopy, type CachedImage, type CacheLimits, type ImageCache } from './image-cache.js'

// Two stores: `blobs` holds each id's token and ciphertext; `entries` holds small rows
// (id, token, size, lastUsed) with an index on lastUsed, so eviction decides from the
// small rows and never reads a ciphertext. Ciphertext is stored as an ArrayBuffer: some
// browsers refuse Blob values in IndexedDB (Safari private mode).
const BLOBS = 'blobs'
const ENTRIES = 'entries'

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
  const open = indexedDB.open(name, 1)
  open.onupgradeneeded = () => {
    const db = open.result
    db.createObjectStore(BLOBS)
    db.createObjectStore(ENTRIES, { keyPath: 'id' }).createIndex('lastUsed', 'lastUsed')
  }
  let db: IDBDatabase | undefined = await request(open)
  const reopen = async () => {
    db ??= await request(indexedDB.open(name, 1))
    return db
  }
  const watch = (handle: IDBDatabase) => {
    // Another tab wants a newer schema: let it go ahead, and open again on the next use.
    handle.onversionchange = () => {
      handle.close()
      if (db === handle) db = undefined
    }
  }
  watch(db)

  const transaction = async (mode: IDBTransactionMode) => {
    const handle = await reopen()
    watch(handle)
    return handle.transaction([BLOBS, ENTRIES], mode)
  }

  async function evict(entries: IDBObjectStore, blobs: IDBObjectStore): Promise<void> {
    const rows = (await request(entries.getAll())) as EntryRow[]
    let count = rows.length
    let bytes = 0
    for (const row of rows) bytes += row.size
    if (count <= limits.maxEntries && bytes <= limits.maxBytes) return
    rows.sort((a, b) => a.lastUsed - b.lastUsed)
    for (const row of rows) {
      if (count <= limits.maxEntries && bytes <= limits.maxBytes) break
      entries.delete(row.id)
      blobs.delete(row.id)
      count--
      bytes -= row.size
    }
  }

  async function write(id: string, image: CachedImage): Promise<void> {
    const tx = await transaction('readwrite')
    const done = completion(tx)
    try {
      const blobs = tx.objectStore(BLOBS)
      const entries = tx.objectStore(ENTRIES)
      const size = image.ciphertext.byteLength
      if (limits.maxEntries === 0 || size > limits.maxBytes) {
        blobs.delete(id)
        entries.delete(id)
      } else {
        // A copy into its own buffer: a view would make IndexedDB clone its whole backing buffer.
        const data = ownCopy(image.ciphertext).buffer
        blobs.put({ token: image.token, data } satisfies BlobRow, id)
        await request(entries.put({ id, token: image.token, size, lastUsed: nextUseTime() } satisfies EntryRow))
        await evict(entries, blobs)
      }
    } catch (error) {
      done.catch(() => undefined)
      if (!tx.error) tx.abort()
      throw error
    }
    await done
  }

  async function free(bytes: number, except: string): Promise<void> {
    const tx = await transaction('readwrite')
    const done = completion(tx)
    const blobs = tx.objectStore(BLOBS)
    const entries = tx.objectStore(ENTRIES)
    const cursor = entries.index('lastUsed').openCursor()
    let freed = 0
    await new Promise<void>((resolve, reject) => {
      cursor.onerror = () => reject(cursor.error)
      cursor.onsuccess = () => {
        const c = cursor.result
        if (!c || freed >= Math.max(bytes, 1)) return resolve()
        const row = c.value as EntryRow
        if (row.id !== except) {
          blobs.delete(row.id)
          c.delete()
          freed += Math.max(row.size, 1)
        }
        c.continue()
      }
    })
    await done
  }

  return {
    async get(id) {
      const tx = await transaction('readwrite')
      const done = completion(tx)
      const blobs = tx.objectStore(BLOBS)
      const row = (await request(blobs.get(id))) as BlobRow | undefined
      if (row) {
        tx.objectStore(ENTRIES).put({ id, token: row.token, size: row.data.byteLength, lastUsed: nextUseTime() } satisfies EntryRow)
      }
      await done
      return row && { token: row.token, ciphertext: new Uint8Array(row.data) }
    },
    async put(id, image) {
      try {
        await write(id, image)
      } catch (error) {
        if ((error as { name?: unknown } | null)?.name !== 'QuotaExceededError') throw error
        // Out of storage: drop least recently used entries worth at least this image, then
        // try once more. A second failure reaches the caller, which serves the image uncached.
        await free(image.ciphertext.byteLength, id)
        await write(id, image)
      }
    },
    async delete(id) {
      const tx = await transaction('readwrite')
      const done = completion(tx)
      const existed = (await request(tx.objectStore(ENTRIES).count(id))) > 0
      tx.objectStore(BLOBS).delete(id)
      tx.objectStore(ENTRIES).delete(id)
      await done
      return existed
    },
    async has(id) {
      const tx = await transaction('readonly')
      return (await request(tx.objectStore(ENTRIES).count(id))) > 0
    },
    async stats() {
      const tx = await transaction('readonly')
      const rows = (await request(tx.objectStore(ENTRIES).getAll())) as EntryRow[]
      return { entries: rows.length, bytes: rows.reduce((sum, row) => sum + row.size, 0) }
    },
    async clear() {
      const tx = await transaction('readwrite')
      const done = completion(tx)
      tx.objectStore(BLOBS).clear()
      tx.objectStore(ENTRIES).clear()
      await done
    },
  }
}
