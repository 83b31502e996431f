import 'fake-indexeddb/auto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { createPixstoreFrontend, getCacheStats, getImage, getImageURL, heldImageURLCount, initPixstoreFrontend } from 'pixstore/frontend'
import type { ImageFetcher, ImageRecord } from 'pixstore/types'
import { fixture, sha256, tempDir, uniqueDbName } from '../helpers.js'

const data = tempDir()
let backend: PixstoreBackend
const png = fixture('sample.png')
const pngHash = await sha256(png)
let requests = 0
const direct: ImageFetcher = (record) => {
  requests++
  return backend.customEndpointHelper(record.id, record.token, record.statelessProof)
}

beforeAll(() => {
  backend = createPixstoreBackend({ dataDir: data.dir })
})
afterAll(async () => {
  await backend.close()
  data.remove()
})
afterEach(() => {
  vi.restoreAllMocks()
  requests = 0
})

const save = async () => (await backend.saveImage(png))!
const outcome = (pending: Promise<unknown>) => pending.then(() => 'IMAGE', (error: { code?: string }) => error.code)

/** Opens a database as another program would, with the given stores, and keeps it open unless closed. */
function openRaw(name: string, version: number, stores: string[]): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, version)
    req.onupgradeneeded = () => {
      for (const store of stores) req.result.createObjectStore(store)
    }
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

describe('the frontend never hangs on its database', () => {
  it('falls back to memory within two seconds when another tab holding an old version blocks the upgrade', async () => {
    const name = uniqueDbName()
    const oldTab = await openRaw(name, 1, ['blobs', 'entries'])
    // The other tab ignores version changes, as a tab running old code would.
    oldTab.onversionchange = null
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    initPixstoreFrontend({ indexedDbName: name, errorHandlingMode: 'throw' }, direct)
    const record = await save()
    const started = Date.now()
    expect(await sha256((await getImage(record))!)).toBe(pngHash)
    expect(Date.now() - started).toBeLessThan(2500)
    expect(warn.mock.calls.some(([line]) => String(line).includes('cached in memory'))).toBe(true)
    oldTab.close()
  })

  it('takes over a database left by pixstore 3.x (version 1, one "images" store) and caches persistently', async () => {
    const name = uniqueDbName()
    const legacy = await openRaw(name, 1, ['images'])
    await new Promise<void>((resolve) => {
      const tx = legacy.transaction('images', 'readwrite')
      tx.objectStore('images').put({ token: 1, blob: 'old' }, 'someone')
      tx.oncomplete = () => resolve()
    })
    legacy.close()
    initPixstoreFrontend({ indexedDbName: name, errorHandlingMode: 'throw' }, direct)
    const record = await save()
    expect(await sha256((await getImage(record))!)).toBe(pngHash)
    expect(requests).toBe(1)
    // A new page on the same origin: the image comes from IndexedDB, with no request.
    initPixstoreFrontend({ indexedDbName: name, errorHandlingMode: 'throw' }, direct)
    expect(await sha256((await getImage(record))!)).toBe(pngHash)
    expect(requests).toBe(1)
    expect(await getCacheStats()).toMatchObject({ entries: 1 })
    const reopened = await openRaw(name, 2, [])
    expect(Array.from(reopened.objectStoreNames).sort()).toEqual(['blobs', 'entries', 'totals'])
    reopened.close()
  })

  it('recreates a foreign database of a newer version under the configured name', async () => {
    const name = uniqueDbName()
    ;(await openRaw(name, 7, ['something-else'])).close()
    initPixstoreFrontend({ indexedDbName: name, errorHandlingMode: 'throw' }, direct)
    const record = await save()
    expect(await sha256((await getImage(record))!)).toBe(pngHash)
    initPixstoreFrontend({ indexedDbName: name, errorHandlingMode: 'throw' }, direct)
    await getImage(record)
    expect(requests).toBe(1)
  })

  it('ends a load whose custom fetcher ignores the abort signal, on the timeout and on abort', async () => {
    const never: ImageFetcher = () => new Promise(() => undefined)
    initPixstoreFrontend({ indexedDbName: uniqueDbName(), errorHandlingMode: 'throw', fetchTimeoutMs: 200 }, never)
    const record = await save()
    expect(await outcome(getImage(record))).toBe('FETCH_FAILED')
    initPixstoreFrontend({ indexedDbName: uniqueDbName(), errorHandlingMode: 'throw', fetchTimeoutMs: 0 }, never)
    const controller = new AbortController()
    const pending = outcome(getImage(record, undefined, { signal: controller.signal }))
    setTimeout(() => controller.abort(), 50)
    expect(await pending).toBe('ABORTED')
  })
})

describe('the frontend refuses what it must not act on', () => {
  it.each(['..', '.', 'a/../b', 'a/b', '%2e%2e', 'x'.repeat(201)])('refuses a record with id %j before any request', async (id) => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch')
    initPixstoreFrontend({ indexedDbName: uniqueDbName(), errorHandlingMode: 'throw' })
    const record = { ...(await save()), id }
    expect(await outcome(getImage(record))).toBe('INVALID_RECORD')
    expect(fetchSpy).not.toHaveBeenCalled()
  })

  it('refuses an Updated payload older than the record as a rollback (STALE_PAYLOAD), and caches nothing', async () => {
    const first = await save()
    const oldPayload = await backend.customEndpointHelper(first.id, undefined, first.statelessProof)
    const current = (await backend.updateImage(first.id, fixture('sample.jpg')))! as ImageRecord
    initPixstoreFrontend({ indexedDbName: uniqueDbName(), errorHandlingMode: 'throw' }, async () => oldPayload)
    expect(await outcome(getImage(current))).toBe('STALE_PAYLOAD')
    expect(await getCacheStats()).toEqual({ entries: 0, bytes: 0 })
  })

  it('keeps loads and object URLs of the default instance working when initPixstoreFrontend replaces it', async () => {
    const record = await save()
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    initPixstoreFrontend({ indexedDbName: uniqueDbName(), errorHandlingMode: 'throw' }, async (r) => {
      await gate
      return direct(r)
    })
    const loading = getImage(record)
    const shown = getImageURL(await save())
    initPixstoreFrontend({ indexedDbName: uniqueDbName(), errorHandlingMode: 'throw' }, direct)
    release()
    expect(await sha256((await loading)!)).toBe(pngHash)
    const handle = (await shown)!
    expect(heldImageURLCount()).toBe(1)
    handle.release()
    expect(heldImageURLCount()).toBe(0)
  })

  it('checks the record before anything in getImageURL, and refuses an already aborted signal', async () => {
    const frontend = createPixstoreFrontend({ indexedDbName: uniqueDbName() }, direct)
    await expect(frontend.getImageURL(undefined as never)).rejects.toMatchObject({ code: 'INVALID_RECORD' })
    initPixstoreFrontend({ indexedDbName: uniqueDbName() }, direct)
    expect(await getImageURL(null as never)).toBeNull()
    const record = await save()
    const held = await frontend.getImageURL(record)
    await expect(frontend.getImageURL(record, undefined, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' })
    held.release()
    await frontend.close()
  })
})
