import 'fake-indexeddb/auto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { createPixstoreFrontend, deleteCachedImage, getImage, getImageURL, heldImageURLCount, initPixstoreFrontend } from 'pixstore/frontend'
import type { ImageFetcher, ImageRecord } from 'pixstore/types'
import { samplePicture } from '../../demo/sample-images.js'
import { errorLog, tempDir, uniqueDbName } from '../helpers.js'

const data = tempDir()
let backend: PixstoreBackend
let requests = 0
const direct: ImageFetcher = (record) => {
  requests++
  return backend.customEndpointHelper(record.id, record.token, record.statelessProof)
}
beforeAll(() => {
  backend = createPixstoreBackend({ dataDir: data.dir, statelessKeyWindowLength: 1000 })
})
afterAll(async () => {
  await backend.close()
  data.remove()
})
afterEach(() => vi.restoreAllMocks())

describe('object URLs', () => {
  it('revokes every URL it created once 500 images are loaded and released', async () => {
    initPixstoreFrontend({ indexedDbName: uniqueDbName() }, direct)
    const created: string[] = []
    const revoked: string[] = []
    const create = URL.createObjectURL.bind(URL)
    vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
      const url = create(blob)
      created.push(url)
      return url
    })
    vi.spyOn(URL, 'revokeObjectURL').mockImplementation((url) => void revoked.push(url))
    const records: ImageRecord[] = []
    for (let i = 0; i < 500; i++) records.push((await backend.saveImage(samplePicture(i % 7, 8)))!)
    const images = (await Promise.all(records.map((record) => getImageURL(record)))).map((image) => image!)
    expect(new Set(images.map((image) => image.url)).size).toBe(500)
    expect(heldImageURLCount()).toBe(500)
    for (const image of images) image.release()
    expect(created).toHaveLength(500)
    expect(new Set(revoked)).toEqual(new Set(created))
    expect(heldImageURLCount()).toBe(0)
  })

  it('shares one URL among the users of a version and revokes it after the last release; a new token gets its own', async () => {
    initPixstoreFrontend({ indexedDbName: uniqueDbName() }, direct)
    const revoke = vi.spyOn(URL, 'revokeObjectURL')
    const record = (await backend.saveImage(samplePicture(1, 16), { id: 'shared-url' }))!
    const [a, b] = (await Promise.all([getImageURL(record), getImageURL(record)])).map((image) => image!)
    if (!a || !b) throw new Error('expected two handles')
    expect(a.url).toBe(b.url)
    a.release()
    expect(revoke).not.toHaveBeenCalled()
    // A holder that releases twice cannot revoke the URL another holder still shows.
    a.release()
    expect(revoke).not.toHaveBeenCalled()
    const updated = (await backend.updateImage('shared-url', samplePicture(2, 16)))!
    const c = (await getImageURL(updated))!
    expect(c.url).not.toBe(a.url)
    b.release()
    expect(revoke).toHaveBeenCalledWith(a.url)
    c.release()
    expect(revoke).toHaveBeenCalledWith(c.url)
  })

  it('keeps the object URLs of each frontend instance apart', async () => {
    const one = createPixstoreFrontend({ indexedDbName: uniqueDbName() }, direct)
    const two = createPixstoreFrontend({ indexedDbName: uniqueDbName() }, direct)
    const record = (await backend.saveImage(samplePicture(5, 16)))!
    const [a, b] = [await one.getImageURL(record), await two.getImageURL(record)]
    expect(a.url).not.toBe(b.url)
    expect([one.heldImageURLCount(), two.heldImageURLCount()]).toEqual([1, 1])
    a.release()
    expect([one.heldImageURLCount(), two.heldImageURLCount()]).toEqual([0, 1])
    b.release()
    await Promise.all([one.close(), two.close()])
  })
})

describe('refreshing an expired proof', () => {
  it('reports INVALID_PROOF without refresh, and with refresh calls it once and shows the image', async () => {
    const errors = errorLog()
    initPixstoreFrontend({ indexedDbName: uniqueDbName(), onError: errors.onError }, direct)
    const record = (await backend.saveImage(samplePicture(3, 16)))!
    const expired = backend.getImageRecord(record.id, { issuedAt: Date.now() - 10_000 })!
    expect(await getImage(expired)).toBeNull()
    expect(errors.last()?.code).toBe('INVALID_PROOF')

    const refresh = vi.fn(async () => backend.getImageRecord(record.id)!)
    requests = 0
    expect(await getImage(expired, undefined, { refresh })).toBeInstanceOf(Blob)
    expect(refresh).toHaveBeenCalledTimes(1)
    expect(requests).toBe(2)

    // A refresh that hands back another stale record is tried once, then reported. (The
    // cached copy would answer without asking the server, so it goes first.)
    await deleteCachedImage(record.id)
    const stale = vi.fn(async () => expired)
    expect(await getImageURL(expired, undefined, { refresh: stale })).toBeNull()
    expect(stale).toHaveBeenCalledTimes(1)
    expect(errors.last()?.code).toBe('INVALID_PROOF')
  })

  it('uses the refresh given to initPixstoreFrontend when the call gives none', async () => {
    const refresh = vi.fn(async (stale: ImageRecord) => backend.getImageRecord(stale.id)!)
    initPixstoreFrontend({ indexedDbName: uniqueDbName(), refresh }, direct)
    const record = (await backend.saveImage(samplePicture(4, 16)))!
    const expired = backend.getImageRecord(record.id, { issuedAt: Date.now() - 10_000 })!
    const image = await getImageURL(expired)
    expect(image?.url).toMatch(/^blob:/)
    expect(refresh).toHaveBeenCalledWith(expired)
    image?.release()
  })
})
