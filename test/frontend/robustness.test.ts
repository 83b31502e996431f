import 'fake-indexeddb/auto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { cachedImageExists, getCacheStats, getImage, initPixstoreFrontend } from 'pixstore/frontend'
import type { ImageFetcher, ImageRecord } from 'pixstore/types'
import { fixture, sha256, sleep, tempDir, uniqueDbName } from '../helpers.js'

const data = tempDir()
let backend: PixstoreBackend
const png = fixture('sample.png')
const pngHash = await sha256(png)
const direct: ImageFetcher = (record) => backend.customEndpointHelper(record.id, record.token, record.statelessProof)

beforeAll(() => {
  backend = createPixstoreBackend({ dataDir: data.dir })
})
afterAll(async () => {
  await backend.close()
  data.remove()
})
afterEach(() => {
  vi.restoreAllMocks()
})

const save = async () => (await backend.saveImage(png))!
// These tests run the module functions in the throw mode, so that each call's own error is what they check.
const codeOf = (pending: Promise<Blob | null>) => pending.then(() => 'IMAGE', (error: { code: string }) => error.code)

describe('browser cache under storage pressure', () => {
  it('evicts the least recently used entries and retries once when a write exceeds the quota', async () => {
    initPixstoreFrontend({ errorHandlingMode: 'throw', indexedDbName: uniqueDbName() }, direct)
    const [a, b, c] = [await save(), await save(), await save()]
    for (const record of [a, b]) await getImage(record)
    const put = IDBObjectStore.prototype.put
    let refusals = 1
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args) {
      if (this.name === 'blobs' && refusals-- > 0) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
      return put.apply(this, args as Parameters<typeof put>)
    })
    expect(await sha256((await getImage(c))!)).toBe(pngHash)
    expect(await Promise.all([a, b, c].map((r) => cachedImageExists(r.id)))).toEqual([false, true, true])
  })

  it('serves the image uncached when the retry exceeds the quota too', async () => {
    initPixstoreFrontend({ errorHandlingMode: 'throw', indexedDbName: uniqueDbName() }, direct)
    const record = await save()
    const put = IDBObjectStore.prototype.put
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args) {
      if (this.name === 'blobs') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
      return put.apply(this, args as Parameters<typeof put>)
    })
    expect(await sha256((await getImage(record))!)).toBe(pngHash)
    expect(await cachedImageExists(record.id)).toBe(false)
    expect(await getCacheStats()).toEqual({ entries: 0, bytes: 0 })
  })
})

describe('two tabs on one database', () => {
  it('lets a second tab work and lets a newer schema open without breaking this tab', async () => {
    const name = uniqueDbName()
    initPixstoreFrontend({ errorHandlingMode: 'throw', indexedDbName: name }, direct)
    vi.resetModules()
    const other = await import('pixstore/frontend')
    other.initPixstoreFrontend({ errorHandlingMode: 'throw', indexedDbName: name }, direct)
    const [first, second] = [await save(), await save()]
    const both = await Promise.all([getImage(first), other.getImage(second), getImage(second), other.getImage(first)])
    for (const blob of both) expect(await sha256(blob!)).toBe(pngHash)

    // Another tab opens the database at a newer version: this tab must let go, not block it.
    const upgraded = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open(name, 100)
      open.onsuccess = () => resolve(open.result)
      open.onerror = () => reject(open.error)
      open.onblocked = () => reject(new Error('blocked by an open connection'))
    })
    upgraded.close()
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const third = await save()
    expect(await sha256((await getImage(third))!)).toBe(pngHash)
    expect(await sha256((await other.getImage(third))!)).toBe(pngHash)
    warn.mockRestore()
  })
})

describe('network failures, aborts and timeouts', () => {
  let server: Server
  let origin: string
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(503).end('busy'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise((resolve) => server.close(resolve)))

  it('reports FETCH_FAILED with the status for a non-200 response', async () => {
    initPixstoreFrontend({ errorHandlingMode: 'throw', indexedDbName: uniqueDbName(), defaultEndpointConnectHost: origin })
    await expect(getImage(await save())).rejects.toMatchObject({ code: 'FETCH_FAILED', message: expect.stringContaining('503') })
  })

  it('reports FETCH_FAILED when the network request fails', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    initPixstoreFrontend({ errorHandlingMode: 'throw', indexedDbName: uniqueDbName(), defaultEndpointConnectHost: `http://127.0.0.1:${port}` })
    expect(await codeOf(getImage(await save()))).toBe('FETCH_FAILED')
  })

  /** A fetcher that answers only when released, and records the signal it was given. */
  function hangingFetcher() {
    const calls: AbortSignal[] = []
    let release: () => void = () => undefined
    const fetcher: ImageFetcher = (record, _context, signal) => {
      calls.push(signal!)
      return new Promise((resolve, reject) => {
        release = () => resolve(backend.customEndpointHelper(record.id, record.token, record.statelessProof))
        signal!.addEventListener('abort', () => reject(signal!.reason))
      })
    }
    return { fetcher, calls, release: () => release() }
  }

  it('aborts one caller without aborting the request others still wait for', async () => {
    const hanging = hangingFetcher()
    initPixstoreFrontend({ errorHandlingMode: 'throw', indexedDbName: uniqueDbName() }, hanging.fetcher)
    const record: ImageRecord = await save()
    const leaving = new AbortController()
    const first = getImage(record, undefined, { signal: leaving.signal })
    const second = getImage(record)
    await sleep(20)
    leaving.abort()
    expect(await codeOf(first)).toBe('ABORTED')
    expect(hanging.calls).toHaveLength(1)
    expect(hanging.calls[0]!.aborted).toBe(false)
    hanging.release()
    expect(await sha256((await second)!)).toBe(pngHash)
  })

  it('aborts the shared request once every caller has aborted', async () => {
    const hanging = hangingFetcher()
    initPixstoreFrontend({ errorHandlingMode: 'throw', indexedDbName: uniqueDbName() }, hanging.fetcher)
    const record = await save()
    const controllers = [new AbortController(), new AbortController()]
    const calls = controllers.map((c) => getImage(record, undefined, { signal: c.signal }))
    await sleep(20)
    controllers[0]!.abort()
    expect(hanging.calls[0]!.aborted).toBe(false)
    controllers[1]!.abort()
    expect(hanging.calls[0]!.aborted).toBe(true)
    for (const call of calls) expect(await codeOf(call)).toBe('ABORTED')
    // A later call starts afresh rather than joining the aborted request.
    const again = getImage(record)
    await sleep(20)
    expect(hanging.calls).toHaveLength(2)
    hanging.release()
    expect(await sha256((await again)!)).toBe(pngHash)
  })

  it('gives up with FETCH_FAILED after fetchTimeoutMs', async () => {
    const hanging = hangingFetcher()
    initPixstoreFrontend({ errorHandlingMode: 'throw', indexedDbName: uniqueDbName(), fetchTimeoutMs: 100 }, hanging.fetcher)
    const started = Date.now()
    await expect(getImage(await save())).rejects.toMatchObject({ code: 'FETCH_FAILED', message: expect.stringMatching(/timed out after 100 ms/) })
    expect(Date.now() - started).toBeLessThan(5000)
    expect(hanging.calls[0]!.aborted).toBe(true)
  })
})
