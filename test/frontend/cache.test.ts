import 'fake-indexeddb/auto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { cachedImageExists, deleteCachedImage, getCacheStats, getImage, initPixstoreFrontend, type PixstoreFrontendConfig } from 'pixstore/frontend'
import type { ImageRecord } from 'pixstore/types'
import { errorLog, fixture, sha256, tempDir, uniqueDbName } from '../helpers.js'

const errors = errorLog()

const data = tempDir()
let backend: PixstoreBackend
let requests: string[] = []
const png = fixture('sample.png')
const pngHash = await sha256(png)

beforeAll(() => {
  backend = createPixstoreBackend({ dataDir: data.dir })
})
afterAll(async () => {
  await backend.close()
  data.remove()
})

/** A frontend on a fresh database whose fetcher asks the backend directly and counts requests. */
function frontend(options: PixstoreFrontendConfig = {}): string {
  const indexedDbName = uniqueDbName()
  requests = []
  initPixstoreFrontend({ indexedDbName, onError: errors.onError, ...options }, async (record) => {
    requests.push(record.id)
    return backend.customEndpointHelper(record.id, record.token, record.statelessProof)
  })
  return indexedDbName
}

async function savePngs(count: number): Promise<ImageRecord[]> {
  const records: ImageRecord[] = []
  for (let i = 0; i < count; i++) records.push((await backend.saveImage(png))!)
  return records
}

function readAll(dbName: string, store: string): Promise<{ key: IDBValidKey; value: unknown }[]> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(dbName)
    open.onsuccess = () => {
      const rows: { key: IDBValidKey; value: unknown }[] = []
      const cursor = open.result.transaction(store).objectStore(store).openCursor()
      cursor.onsuccess = () => {
        const c = cursor.result
        if (!c) {
          open.result.close()
          return resolve(rows)
        }
        rows.push({ key: c.key, value: c.value })
        c.continue()
      }
      cursor.onerror = () => reject(cursor.error)
    }
    open.onerror = () => reject(open.error)
  })
}

describe('the browser cache', () => {
  it('keeps at most frontendImageCacheLimit entries, evicting the least recently used', async () => {
    frontend({ frontendImageCacheLimit: 3 })
    const records = await savePngs(6)
    for (const record of records.slice(0, 5)) await getImage(record)
    expect(await getCacheStats()).toMatchObject({ entries: 3 })
    // A hit makes entry 2 the most recently used, so loading entry 5 evicts entry 3.
    await getImage(records[2]!)
    expect(requests).toHaveLength(5)
    await getImage(records[5]!)
    const cached = await Promise.all(records.map((r) => cachedImageExists(r.id)))
    expect(cached).toEqual([false, false, true, false, true, true])
  })

  it('keeps at most frontendImageCacheMaxBytes of ciphertext', async () => {
    const entryBytes = png.length + 1
    frontend({ frontendImageCacheMaxBytes: entryBytes * 2 + 100 })
    const records = await savePngs(4)
    for (const record of records) await getImage(record)
    expect(await getCacheStats()).toEqual({ entries: 2, bytes: entryBytes * 2 })
    expect(await Promise.all(records.map((r) => cachedImageExists(r.id)))).toEqual([false, false, true, true])
  })

  it('detects a tampered cached entry, removes it and fetches the image again', async () => {
    const dbName = frontend()
    const [record] = await savePngs(1)
    await getImage(record!)
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open(dbName)
      open.onsuccess = () => {
        const tx = open.result.transaction('blobs', 'readwrite')
        const store = tx.objectStore('blobs')
        const get = store.get(record!.id)
        get.onsuccess = () => {
          const row = get.result as { token: number; data: ArrayBuffer }
          new Uint8Array(row.data)[10]! ^= 1
          store.put(row, record!.id)
        }
        tx.oncomplete = () => {
          open.result.close()
          resolve()
        }
        tx.onerror = () => reject(tx.error)
      }
    })
    const blob = await getImage(record!)
    expect(await sha256(blob!)).toBe(pngHash)
    expect(requests).toEqual([record!.id, record!.id])
    // The replaced entry is good again: the next load is a hit.
    await getImage(record!)
    expect(requests).toHaveLength(2)
  })

  it('does not cache a fetched payload that fails to decrypt', async () => {
    frontend()
    const [record] = await savePngs(1)
    const forged = { ...record!, meta: { ...record!.meta, tag: Buffer.alloc(16).toString('base64') } }
    expect(await getImage(forged)).toBeNull()
    expect(errors.last()?.code).toBe('DECRYPT_FAILED')
    expect(await cachedImageExists(record!.id)).toBe(false)
  })

  it('stores ciphertext only: no key appears anywhere in IndexedDB', async () => {
    const dbName = frontend()
    const records = await savePngs(3)
    for (const record of records) await getImage(record)
    const rows = [...(await readAll(dbName, 'blobs')), ...(await readAll(dbName, 'entries'))]
    expect(rows.length).toBe(6)
    const dump = Buffer.from(
      rows.map((r) => JSON.stringify(r, (_k, v) => (v instanceof ArrayBuffer ? Buffer.from(v).toString('hex') : v))).join('\n'),
    ).toString('hex')
    for (const record of records) {
      const key = Buffer.from(record.meta.key, 'base64')
      expect(dump).not.toContain(key.toString('hex'))
      expect(dump).not.toContain(Buffer.from(record.meta.key).toString('hex'))
    }
  })

  it('shares one request among concurrent calls for the same record', async () => {
    frontend()
    const [record] = await savePngs(1)
    const blobs = await Promise.all(Array.from({ length: 20 }, () => getImage(record!)))
    expect(requests).toHaveLength(1)
    for (const blob of blobs) expect(await sha256(blob!)).toBe(pngHash)
  })

  it('drops the cached copy when the server says the image no longer exists', async () => {
    frontend()
    const [record] = await savePngs(1)
    await getImage(record!)
    await backend.deleteImage(record!.id)
    await deleteCachedImage(record!.id)
    expect(await getImage(record!)).toBeNull()
    expect(errors.last()?.code).toBe('NOT_FOUND')
    expect(await cachedImageExists(record!.id)).toBe(false)
  })

  it('works from memory, saying so once, where IndexedDB is unavailable', async () => {
    vi.stubGlobal('indexedDB', undefined)
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    try {
      frontend()
      const records = await savePngs(2)
      for (const record of [...records, ...records]) expect(await sha256((await getImage(record))!)).toBe(pngHash)
      expect(requests).toHaveLength(2)
      frontend()
      await getImage(records[0]!)
      expect(warn).toHaveBeenCalledTimes(1)
      expect(String(warn.mock.calls[0]![0])).toMatch(/IndexedDB is unavailable/)
    } finally {
      warn.mockRestore()
      vi.unstubAllGlobals()
    }
  })
})
