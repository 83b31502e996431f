// The page side of the browser benchmark (bench/browser.ts bundles it with esbuild).
// Every timing loop runs here, in the page, with performance.now(), so that no
// Playwright round trip is counted. Pixstore's getImage and the hand-written baselines
// run in the same page, one after the other.
import {
  clearImageCache,
  getCacheStats,
  getImage,
  initPixstoreFrontend,
  type PixstoreFrontendConfig,
} from 'pixstore/frontend'
import type { PixstoreError } from 'pixstore/shared'
import type { ImageFetcher, ImageRecord } from 'pixstore/types'

/** What the page exposes on `window.pixBench`. */
export interface PixBench {
  /** (Re)configures Pixstore; `memoryFetcherOf` installs a custom fetcher serving that record's payload from memory. */
  init(config?: PixstoreFrontendConfig, memoryFetcherOf?: ImageRecord): Promise<void>
  /** Empties Pixstore's cache and the baseline's database. */
  clearAll(): Promise<void>
  cacheStats(): Promise<{ entries: number; bytes: number } | null>
  /** Warm getImage: primes once, then `n` timed calls (ms each). */
  pixWarm(record: ImageRecord, n: number): Promise<number[]>
  /** Warm baseline: IndexedDB get + AES-GCM decrypt + Blob, primed once. */
  baseWarm(record: ImageRecord, n: number): Promise<number[]>
  /** Cold getImage: the cache is emptied (untimed) before each of `n` timed calls. */
  pixCold(record: ImageRecord, n: number): Promise<number[]>
  /**
   * Cold baseline: lookup (miss) + fetch(/raw) + decrypt + put; `awaitPut` false returns the
   * Blob before the put commits; `source` 'route' fetches Pixstore's route instead of /raw.
   */
  baseCold(record: ImageRecord, n: number, awaitPut: boolean, source?: 'raw' | 'route'): Promise<number[]>
  /** Total ms for getImage of every record, one after another or all at once. */
  pixMany(records: ImageRecord[], mode: 'sequential' | 'parallel'): Promise<number>
  baseManyCold(records: ImageRecord[], mode: 'sequential' | 'parallel', rawOrigin?: string): Promise<number>
  baseManyWarm(records: ImageRecord[], mode: 'sequential' | 'parallel'): Promise<number>
  /** `k` concurrent getImage calls for one record; resolves how many returned the image. */
  pixConcurrent(record: ImageRecord, k: number): Promise<number>
  /** `k` concurrent naive fetches of the raw route. */
  baseConcurrent(record: ImageRecord, k: number): Promise<number>
  /** getImage of copies of the memory fetcher's record under ids `${prefix}${from..from+count-1}`; total ms. */
  pixFillCopies(prefix: string, from: number, count: number): Promise<number>
  /** One timed getImage of a copy (id `${prefix}${i}`), in ms. */
  pixCopy(prefix: string, i: number): Promise<number>
  /** Empties the baseline LRU database (same two-store shape as Pixstore's) and fills it with `count` entries. */
  baseLruFill(count: number): Promise<void>
  /**
   * One put into the baseline LRU database and an eviction to `maxEntries` (count, then the
   * oldest keys from the lastUsed index in one getAllKeys); ms until the put is committed,
   * with the eviction in the same transaction, or in a second one afterwards (`evictAfter`).
   */
  baseLruPutEvict(maxEntries: number, evictAfter: boolean): Promise<number>
  /** Copies every store, index and row of database `from` into a new database `to`. */
  copyDatabase(from: string, to: string): Promise<void>
  baseLruCount(): Promise<number>
  lastError(): string | undefined
}

declare global {
  interface Window {
    pixBench: PixBench
  }
}

// ---------- shared helpers ----------

const request = <T>(req: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })

const completion = (tx: IDBTransaction) =>
  new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(tx.error)
    tx.onabort = () => reject(tx.error ?? new Error('aborted'))
  })

const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0))

const mimeOf: Record<number, string> = { 1: 'image/png', 2: 'image/webp', 3: 'image/jpeg', 4: 'image/jpeg', 5: 'image/gif', 6: 'image/avif' }

// What the last call that returned null failed with (the module functions report it through onError).
let lastError: PixstoreError | null = null

function check(blob: Blob | null, record: ImageRecord): Blob {
  if (!blob) throw new Error(`getImage(${record.id}) returned null: ${lastError?.code ?? '?'} ${lastError?.message ?? ''}`)
  if (record.bytes !== undefined && blob.size !== record.bytes) throw new Error(`getImage(${record.id}): ${blob.size} bytes, expected ${record.bytes}`)
  return blob
}

// ---------- the baseline: what an app would write by hand ----------

interface BaseRow {
  token: number
  data: ArrayBuffer
}

let baseDb: Promise<IDBDatabase> | undefined
function baselineDb(): Promise<IDBDatabase> {
  baseDb ??= (async () => {
    const open = indexedDB.open('baseline', 1)
    open.onupgradeneeded = () => open.result.createObjectStore('images')
    return request(open)
  })()
  return baseDb
}

async function baseGet(id: string): Promise<BaseRow | undefined> {
  const db = await baselineDb()
  return request(db.transaction('images', 'readonly').objectStore('images').get(id)) as Promise<BaseRow | undefined>
}

async function basePut(id: string, row: BaseRow): Promise<void> {
  const db = await baselineDb()
  const tx = db.transaction('images', 'readwrite')
  const done = completion(tx)
  tx.objectStore('images').put(row, id)
  await done
}

/** AES-GCM decrypt of `[format][image]` with the record's meta (the tag appended, as WebCrypto wants), as a Blob. */
async function baseDecrypt(ciphertext: ArrayBuffer, record: ImageRecord): Promise<Blob> {
  const key = fromBase64(record.meta.key)
  const iv = fromBase64(record.meta.iv)
  const tag = fromBase64(record.meta.tag)
  const sealed = new Uint8Array(ciphertext.byteLength + tag.length)
  sealed.set(new Uint8Array(ciphertext))
  sealed.set(tag, ciphertext.byteLength)
  const cryptoKey = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt'])
  const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, tagLength: 128 }, cryptoKey, sealed))
  return new Blob([plain.subarray(1)], { type: mimeOf[plain[0]!] ?? 'application/octet-stream' })
}

const rawUrl = (record: ImageRecord, origin = '') =>
  `${origin}/raw/${encodeURIComponent(record.id)}?token=${record.token}&proof=${encodeURIComponent(record.statelessProof)}`

async function baseWarmOne(record: ImageRecord): Promise<Blob> {
  const row = await baseGet(record.id)
  if (!row || row.token !== record.token) throw new Error(`baseline: ${record.id} not cached`)
  return baseDecrypt(row.data, record)
}

async function baseColdOne(record: ImageRecord, awaitPut: boolean, origin = '', source: 'raw' | 'route' = 'raw'): Promise<Blob> {
  const row = await baseGet(record.id)
  if (row && row.token === record.token) return baseDecrypt(row.data, record)
  let data: ArrayBuffer
  if (source === 'raw') {
    const response = await fetch(rawUrl(record, origin), { cache: 'no-store' })
    if (!response.ok) throw new Error(`baseline: /raw answered ${response.status}`)
    data = await response.arrayBuffer()
  } else {
    // Pixstore's own route and request, the rest as the baseline does it: tells the
    // frontend's cost from the route's.
    const response = await fetch(`${origin}/pixstore-image/${encodeURIComponent(record.id)}`, {
      headers: { 'x-pixstore-proof': record.statelessProof, 'x-pixstore-token': String(record.token) },
      cache: 'no-store',
    })
    const payload = new Uint8Array(await response.arrayBuffer())
    if (payload[0] !== 0) throw new Error(`baseline: payload state ${payload[0]}`)
    data = payload.slice(1).buffer
  }
  const blob = await baseDecrypt(data, record)
  const put = basePut(record.id, { token: record.token, data })
  if (awaitPut) await put
  else put.catch(() => undefined)
  return blob
}

async function clearBaseline(): Promise<void> {
  const db = await baselineDb()
  const tx = db.transaction('images', 'readwrite')
  const done = completion(tx)
  tx.objectStore('images').clear()
  await done
}

// ---------- the baseline LRU: Pixstore's two-store shape, evicting through the lastUsed index ----------

let lruDb: Promise<IDBDatabase> | undefined
function baselineLruDb(): Promise<IDBDatabase> {
  lruDb ??= (async () => {
    const open = indexedDB.open('baseline-lru', 1)
    open.onupgradeneeded = () => {
      open.result.createObjectStore('blobs')
      open.result.createObjectStore('entries', { keyPath: 'id' }).createIndex('lastUsed', 'lastUsed')
    }
    return request(open)
  })()
  return lruDb
}

let lruClock = 0
let lruPayload: Uint8Array | undefined

// ---------- Pixstore ----------

let memoryPayload: Uint8Array | undefined
let memoryRecord: ImageRecord | undefined

const timed = async (run: () => Promise<unknown>) => {
  const start = performance.now()
  await run()
  return performance.now() - start
}

const all = async (records: ImageRecord[], mode: 'sequential' | 'parallel', one: (r: ImageRecord) => Promise<Blob | null>) => {
  if (mode === 'parallel') {
    const blobs = await Promise.all(records.map(one))
    blobs.forEach((blob, i) => check(blob, records[i]!))
  } else {
    for (const record of records) check(await one(record), record)
  }
}

const copyOf = (prefix: string, i: number): ImageRecord => ({ ...memoryRecord!, id: `${prefix}${i}` })

window.pixBench = {
  async init(config, memoryFetcherOf) {
    let fetcher: ImageFetcher | undefined
    if (memoryFetcherOf) {
      if (memoryRecord?.id !== memoryFetcherOf.id || !memoryPayload) {
        // The Success payload of the record, fetched once from Pixstore's route.
        const response = await fetch(`/pixstore-image/${encodeURIComponent(memoryFetcherOf.id)}`, {
          headers: { 'x-pixstore-proof': memoryFetcherOf.statelessProof, 'x-pixstore-token': String(memoryFetcherOf.token) },
        })
        memoryPayload = new Uint8Array(await response.arrayBuffer())
        if (memoryPayload[0] !== 0) throw new Error(`memory fetcher: payload state ${memoryPayload[0]}`)
        memoryRecord = memoryFetcherOf
      }
      const payload = memoryPayload
      fetcher = async () => payload
    }
    initPixstoreFrontend({ ...config, onError: (error) => void (lastError = error) }, fetcher)
  },
  async clearAll() {
    await clearImageCache()
    await clearBaseline()
  },
  cacheStats: () => getCacheStats(),

  async pixWarm(record, n) {
    check(await getImage(record), record)
    const times: number[] = []
    for (let i = 0; i < n; i++) {
      const start = performance.now()
      const blob = await getImage(record)
      times.push(performance.now() - start)
      check(blob, record)
    }
    return times
  },
  async baseWarm(record, n) {
    check(await baseColdOne(record, true), record)
    const times: number[] = []
    for (let i = 0; i < n; i++) {
      const start = performance.now()
      const blob = await baseWarmOne(record)
      times.push(performance.now() - start)
      check(blob, record)
    }
    return times
  },
  async pixCold(record, n) {
    const times: number[] = []
    for (let i = 0; i < n; i++) {
      await clearImageCache()
      const start = performance.now()
      const blob = await getImage(record)
      times.push(performance.now() - start)
      check(blob, record)
    }
    return times
  },
  async baseCold(record, n, awaitPut, source) {
    const times: number[] = []
    for (let i = 0; i < n; i++) {
      await clearBaseline()
      const start = performance.now()
      const blob = await baseColdOne(record, awaitPut, '', source)
      times.push(performance.now() - start)
      check(blob, record)
    }
    // Let a put that was not awaited finish before anything else is timed.
    await clearBaseline()
    return times
  },

  pixMany: (records, mode) => timed(() => all(records, mode, (r) => getImage(r))),
  baseManyCold: (records, mode, rawOrigin) => timed(() => all(records, mode, (r) => baseColdOne(r, true, rawOrigin))),
  baseManyWarm: (records, mode) => timed(() => all(records, mode, (r) => baseWarmOne(r))),

  async pixConcurrent(record, k) {
    await clearImageCache()
    const blobs = await Promise.all(Array.from({ length: k }, () => getImage(record)))
    return blobs.filter((blob) => blob !== null && blob.size === record.bytes).length
  },
  async baseConcurrent(record, k) {
    await clearBaseline()
    const blobs = await Promise.all(Array.from({ length: k }, () => baseColdOne(record, true)))
    return blobs.filter((blob) => blob.size === record.bytes).length
  },

  async pixFillCopies(prefix, from, count) {
    return timed(async () => {
      for (let i = from; i < from + count; i++) {
        const record = copyOf(prefix, i)
        check(await getImage(record), record)
      }
    })
  },
  async pixCopy(prefix, i) {
    const record = copyOf(prefix, i)
    const start = performance.now()
    const blob = await getImage(record)
    const ms = performance.now() - start
    check(blob, record)
    return ms
  },

  async baseLruFill(count) {
    if (!memoryPayload) throw new Error('init with a memory fetcher first')
    lruPayload = memoryPayload.slice(1)
    const db = await baselineLruDb()
    const tx = db.transaction(['blobs', 'entries'], 'readwrite')
    const done = completion(tx)
    const blobs = tx.objectStore('blobs')
    const entries = tx.objectStore('entries')
    blobs.clear()
    entries.clear()
    for (let i = 0; i < count; i++) {
      const id = `base-${i}`
      blobs.put({ token: 1, data: lruPayload.slice().buffer }, id)
      entries.put({ id, token: 1, size: lruPayload.byteLength, lastUsed: ++lruClock })
    }
    await done
  },
  async baseLruPutEvict(maxEntries, evictAfter) {
    const db = await baselineLruDb()
    const id = `base-new-${++lruClock}`
    const put = (blobs: IDBObjectStore, entries: IDBObjectStore) => {
      blobs.put({ token: 1, data: lruPayload!.slice().buffer }, id)
      entries.put({ id, token: 1, size: lruPayload!.byteLength, lastUsed: lruClock })
    }
    // Count the small rows, then read only the keys of the oldest excess rows from the
    // lastUsed index, in one request, and delete them.
    const evict = async (blobs: IDBObjectStore, entries: IDBObjectStore) => {
      const excess = (await request(entries.count())) - maxEntries
      if (excess <= 0) return
      const oldest = await request(entries.index('lastUsed').getAllKeys(null, excess))
      for (const key of oldest) {
        blobs.delete(key)
        entries.delete(key)
      }
    }
    const start = performance.now()
    const tx = db.transaction(['blobs', 'entries'], 'readwrite')
    const done = completion(tx)
    put(tx.objectStore('blobs'), tx.objectStore('entries'))
    if (!evictAfter) await evict(tx.objectStore('blobs'), tx.objectStore('entries'))
    await done
    const ms = performance.now() - start
    if (evictAfter) {
      // The caller has its image; the clean-up runs in a transaction of its own.
      const later = db.transaction(['blobs', 'entries'], 'readwrite')
      const laterDone = completion(later)
      await evict(later.objectStore('blobs'), later.objectStore('entries'))
      await laterDone
    }
    return ms
  },
  async copyDatabase(from, to) {
    const source = await request(indexedDB.open(from))
    const names = Array.from(source.objectStoreNames)
    const contents = new Map<string, { keys: IDBValidKey[]; values: unknown[] }>()
    const schema: { name: string; keyPath: string | string[] | null; autoIncrement: boolean; indexes: { name: string; keyPath: string | string[]; unique: boolean; multiEntry: boolean }[] }[] = []
    const read = source.transaction(names, 'readonly')
    for (const name of names) {
      const store = read.objectStore(name)
      schema.push({
        name,
        keyPath: store.keyPath,
        autoIncrement: store.autoIncrement,
        indexes: Array.from(store.indexNames, (indexName) => {
          const index = store.index(indexName)
          return { name: indexName, keyPath: index.keyPath, unique: index.unique, multiEntry: index.multiEntry }
        }),
      })
      contents.set(name, { keys: await request(store.getAllKeys()), values: await request(store.getAll()) })
    }
    const open = indexedDB.open(to, source.version)
    open.onupgradeneeded = () => {
      for (const model of schema) {
        const store = open.result.createObjectStore(model.name, { keyPath: model.keyPath, autoIncrement: model.autoIncrement })
        for (const index of model.indexes) store.createIndex(index.name, index.keyPath, { unique: index.unique, multiEntry: index.multiEntry })
      }
    }
    const target = await request(open)
    const write = target.transaction(names, 'readwrite')
    const done = completion(write)
    for (const name of names) {
      const store = write.objectStore(name)
      const { keys, values } = contents.get(name)!
      values.forEach((value, i) => (store.keyPath === null ? store.put(value, keys[i]) : store.put(value)))
    }
    await done
    source.close()
    target.close()
  },
  async baseLruCount() {
    const db = await baselineLruDb()
    return request(db.transaction('entries', 'readonly').objectStore('entries').count())
  },
  lastError: () => (lastError ? `${lastError.code}: ${lastError.message}` : undefined),
}
document.body.dataset.ready = 'true'
