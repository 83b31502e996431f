import 'fake-indexeddb/auto'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { createPixstoreFrontend, type PixstoreFrontend, type PixstoreFrontendConfig } from 'pixstore/frontend'
import type { FetchOptions, ImageRecord } from 'pixstore/types'
import { photo, tempDir, uniqueDbName } from '../helpers.js'

const data = tempDir()
let backend: PixstoreBackend
let record: ImageRecord
const opened: PixstoreFrontend[] = []

beforeAll(async () => {
  backend = createPixstoreBackend({ dataDir: data.dir, variants: { widths: [160, 320, 640], formats: ['avif', 'webp'] } })
  record = await backend.saveImage(await photo(1000, 750), { id: 'photo' })
})
afterAll(async () => {
  for (const frontend of opened) await frontend.close()
  await backend.close()
  data.remove()
})

/** A frontend whose fetcher asks the backend directly and records what it asked for. */
function frontend(config: PixstoreFrontendConfig = {}, passVariants = true) {
  const asked: (string | undefined)[] = []
  const instance = createPixstoreFrontend({ indexedDbName: uniqueDbName(), ...config }, async (r, _context, _signal, options?: FetchOptions) => {
    asked.push(options?.variant)
    return backend.customEndpointHelper(r.id, r.token, r.statelessProof, passVariants ? options : undefined)
  })
  opened.push(instance)
  return { instance, asked }
}

const shape = async (blob: Blob) => {
  const meta = await sharp(Buffer.from(await blob.arrayBuffer())).metadata()
  return { type: blob.type, width: meta.width }
}

describe('getImage with a width', () => {
  it('loads the smallest variant at least that wide, in the best format configured, else the original', async () => {
    const { instance, asked } = frontend({ variantFormats: ['avif', 'webp'] })
    expect(await shape(await instance.getImage(record, undefined, { width: 100 }))).toEqual({ type: 'image/avif', width: 160 })
    expect(await shape(await instance.getImage(record, undefined, { width: 200 }))).toEqual({ type: 'image/avif', width: 320 })
    // Wider than every variant: the original.
    expect(await shape(await instance.getImage(record, undefined, { width: 900 }))).toEqual({ type: 'image/jpeg', width: 1000 })
    expect(asked).toEqual(['160.avif', '320.avif', undefined])
  })

  it('uses WebP where AVIF is not decoded, and the original where neither is', async () => {
    const webp = frontend({ variantFormats: ['webp'] })
    expect(await shape(await webp.instance.getImage(record, undefined, { width: 300 }))).toEqual({ type: 'image/webp', width: 320 })
    // No format decoded (and no createImageBitmap here to find one): no variant of another format is loaded.
    const none = frontend()
    expect(await shape(await none.instance.getImage(record, undefined, { width: 300 }))).toEqual({ type: 'image/jpeg', width: 1000 })
    expect(none.asked).toEqual([undefined])
  })

  it('caches each variant on its own, lets a wider cached one serve a narrower request, and drops them all with the image', async () => {
    const { instance, asked } = frontend({ variantFormats: ['webp'] })
    await instance.getImage(record, undefined, { width: 600 })
    expect(asked).toEqual(['640.webp'])
    // Cached: no request for it again, nor for narrower ones of the same version.
    expect(await shape(await instance.getImage(record, undefined, { width: 600 }))).toEqual({ type: 'image/webp', width: 640 })
    expect(await shape(await instance.getImage(record, undefined, { width: 150 }))).toEqual({ type: 'image/webp', width: 640 })
    expect(asked).toEqual(['640.webp'])
    expect(await instance.getCacheStats()).toMatchObject({ entries: 1 })
    // A wider box needs the original: fetched and cached beside the variant.
    await instance.getImage(record, undefined, { width: 800 })
    expect(asked).toEqual(['640.webp', undefined])
    expect(await instance.getCacheStats()).toMatchObject({ entries: 2 })
    expect(await instance.deleteCachedImage('photo')).toBe(true)
    expect(await instance.getCacheStats()).toMatchObject({ entries: 0, bytes: 0 })
    expect(await instance.cachedImageExists('photo')).toBe(false)
  })

  it('gets the original from a custom fetcher that does not pass the variant on, and from a stale record', async () => {
    const ignoring = frontend({ variantFormats: ['webp'] }, false)
    expect(await shape(await ignoring.instance.getImage(record, undefined, { width: 150 }))).toEqual({ type: 'image/jpeg', width: 1000 })
    // The record is a version behind: the route answers with the current original.
    const updated = await backend.updateImage('photo', await photo(800, 600))
    const stale = frontend({ variantFormats: ['webp'] })
    expect(await shape(await stale.instance.getImage(record, undefined, { width: 150 }))).toEqual({ type: 'image/jpeg', width: 800 })
    // That original is cached as the current version: it serves the fresh record's small box too, with no request.
    expect(await shape(await stale.instance.getImage(updated, undefined, { width: 150 }))).toEqual({ type: 'image/jpeg', width: 800 })
    expect(stale.asked).toEqual(['160.webp'])
    const fresh = frontend({ variantFormats: ['webp'] })
    expect(await shape(await fresh.instance.getImage(updated, undefined, { width: 150 }))).toEqual({ type: 'image/webp', width: 160 })
    record = updated
  })

  it('refuses a bad width and a record with malformed variants', async () => {
    const { instance } = frontend()
    await expect(instance.getImage(record, undefined, { width: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(instance.getImage({ ...record, variants: [{ width: 10, height: 10, format: 'exe' }] } as never, undefined, { width: 5 })).rejects.toMatchObject({
      code: 'INVALID_RECORD',
    })
    expect(() => createPixstoreFrontend({ variantFormats: ['bmp'] as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
  })
})
