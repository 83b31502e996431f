import path from 'node:path'
import Database from 'better-sqlite3'
import sharp from 'sharp'
import { thumbHashToApproximateAspectRatio } from 'thumbhash'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createFilesystemBlobStore, createPixstoreBackend, createSqliteMetadataStore, type PixstoreBackend, type PixstoreBackendConfig } from 'pixstore/backend'
import type { ImageRecord } from 'pixstore/types'
import { decryptUpdatedPayload, decryptVariantPayload, listFiles, photo, tempDir } from '../helpers.js'
import { jpegWithMetadata, privateMarkers } from '../metadata-images.js'

describe('variants made at save time', () => {
  let data: ReturnType<typeof tempDir>
  let backend: PixstoreBackend | undefined
  afterEach(async () => {
    await backend?.close()
    backend = undefined
    data.remove()
  })
  const open = (config: PixstoreBackendConfig = {}) => {
    data = tempDir()
    backend = createPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, ...config })
    return backend
  }
  const variantBytes = async (store: PixstoreBackend, record: ImageRecord, name: string) =>
    decryptVariantPayload(await store.customEndpointHelper(record.id, record.token, record.statelessProof, { variant: name }), record, name)

  it('makes every width below the image\'s own in every format, each decrypting to that size and format', async () => {
    const store = open({ variants: { widths: [160, 320, 640, 1280, 2000], formats: ['avif', 'webp', 'original'] } })
    const record = await store.saveImage(await photo(), { id: 'photo' })
    const names = record.variants!.map((v) => `${v.width}.${v.format}`)
    // 2000 is wider than the photo: never upscaled.
    expect(names).toEqual(['160.avif', '160.webp', '160.jpeg', '320.avif', '320.webp', '320.jpeg', '640.avif', '640.webp', '640.jpeg', '1280.avif', '1280.webp', '1280.jpeg'])
    for (const variant of record.variants!) {
      const bytes = await variantBytes(store, record, `${variant.width}.${variant.format}`)
      const meta = await sharp(bytes).metadata()
      expect({ width: meta.width, height: meta.height, format: meta.format === 'heif' ? 'avif' : meta.format, bytes: bytes.byteLength }).toEqual({
        width: variant.width,
        height: variant.width * 0.75,
        format: variant.format,
        bytes: variant.bytes,
      })
    }
    // The smallest is a small fraction of the original.
    expect(record.variants![1]!.bytes).toBeLessThan(record.bytes! / 20)
  })

  it('keeps a record with 4 widths × 2 formats under 1.5 KB of JSON, with a placeholder of the image\'s shape', async () => {
    const store = open({ variants: { widths: [160, 320, 640, 1280], formats: ['avif', 'webp'] } })
    const record = await store.saveImage(await photo(), { id: 'photo' })
    expect(record.variants).toHaveLength(8)
    const size = Buffer.byteLength(JSON.stringify(record))
    console.log(`record JSON with 8 variants: ${size} bytes`)
    expect(size).toBeLessThan(1536)
    const hash = Buffer.from(record.placeholder!, 'base64')
    expect(hash.byteLength).toBeLessThanOrEqual(40)
    expect(thumbHashToApproximateAspectRatio(hash)).toBeCloseTo(4 / 3, 0)
  })

  it('turns every variant the right way up and gives it no metadata', async () => {
    const store = open({ variants: { widths: [32, 48], formats: ['webp', 'original'] } })
    // sample.jpg is 96 × 64; orientation 6 shows it 64 wide and 96 tall.
    const record = await store.saveImage(jpegWithMetadata(6), { id: 'rotated' })
    expect(record.variants!.map((v) => [v.width, v.height, v.format])).toEqual([
      [32, 48, 'webp'],
      [32, 48, 'jpeg'],
      [48, 72, 'webp'],
      [48, 72, 'jpeg'],
    ])
    for (const variant of record.variants!) {
      const bytes = await variantBytes(store, record, `${variant.width}.${variant.format}`)
      const meta = await sharp(bytes).metadata()
      expect([meta.width, meta.height, meta.orientation, meta.exif, meta.xmp]).toEqual([variant.width, variant.height, undefined, undefined, undefined])
      for (const marker of privateMarkers) expect(bytes.includes(marker)).toBe(false)
    }
  })

  it('serves the current original to a client asking for a variant of another version or one that does not exist', async () => {
    const store = open({ variants: { widths: [160] } })
    const record = await store.saveImage(await photo(400, 300), { id: 'p' })
    const original = decryptUpdatedPayload(await store.customEndpointHelper('p', undefined, record.statelessProof))
    for (const [token, variant] of [[record.token - 1, '160.webp'], [record.token, '320.webp'], [record.token, '../x'], [record.token, '160.avif']] as const) {
      const payload = await store.customEndpointHelper('p', token, record.statelessProof, { variant })
      expect(decryptUpdatedPayload(payload).equals(original)).toBe(true)
    }
    // Without a valid proof, no variant either.
    expect([...(await store.customEndpointHelper('p', record.token, 'forged', { variant: '160.webp' }))]).toEqual([5])
  })

  it('replaces the whole set on update and removes it on delete, leaving no file behind', async () => {
    const store = open({ variants: { widths: [160, 320], formats: ['webp', 'avif'] }, inlineImageMaxBytes: 0 })
    const first = await store.saveImage(await photo(800, 600), { id: 'p' })
    const images = path.join(data.dir, 'images')
    expect(listFiles(images)).toHaveLength(5)
    const second = await store.updateImage('p', await photo(640, 480))
    // The old set goes right after the update resolves.
    await vi.waitFor(() => expect(listFiles(images)).toHaveLength(5))
    expect(second.variants!.map((v) => v.height)).toEqual([120, 120, 240, 240])
    // The old version's variants are gone: a client still asking for one gets the new original.
    const stale = await store.customEndpointHelper('p', first.token, second.statelessProof, { variant: '160.webp' })
    expect(stale[0]).toBe(1)
    expect(await variantBytes(store, second, '160.webp')).toBeInstanceOf(Buffer)
    // Per call: none for this update.
    const third = await store.updateImage('p', await photo(640, 480), { variants: false })
    expect(third.variants).toBeUndefined()
    expect(third.placeholder).toBeUndefined()
    await vi.waitFor(() => expect(listFiles(images)).toHaveLength(1))
    await store.deleteImage('p')
    expect(listFiles(images)).toHaveLength(0)
  })

  it('makes variants per call on a backend without them, and refuses bad variant options with a clear error', async () => {
    const store = open()
    const plain = await store.saveImage(await photo(400, 300), { id: 'plain' })
    expect(plain.variants).toBeUndefined()
    const made = await store.saveImage(await photo(400, 300), { id: 'made', variants: { widths: [100] } })
    expect(made.variants).toEqual([{ width: 100, height: 75, format: 'webp', bytes: expect.any(Number), salt: expect.stringMatching(/^[A-Za-z0-9+/]{16}$/) }])
    await expect(store.saveImage(await photo(400, 300), { variants: { widths: [8] } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(store.saveImage(await photo(400, 300), { variants: { widths: [100], formats: ['gif'] as never } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(store.updateImage('made', await photo(400, 300), { varients: false } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(() => createPixstoreBackend({ dataDir: data.dir, variants: { widths: [] } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
    expect(() => createPixstoreBackend({ dataDir: data.dir, variants: { widths: [100], formatz: [] } as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('Did you mean "formats"') }),
    )
  })

  it('refuses, with INVALID_IMAGE and nothing stored, an image whose pixels cannot be decoded', async () => {
    const store = open({ variants: { widths: [100] } })
    const good = await photo(400, 300)
    // A valid header and a body cut short: Pixstore's checks pass, the decoder does not.
    const truncated = good.subarray(0, Math.floor(good.byteLength / 3))
    await expect(store.saveImage(truncated, { id: 'cut' })).rejects.toMatchObject({ code: 'INVALID_IMAGE' })
    expect(await store.imageExists('cut')).toBe(false)
    expect(listFiles(path.join(data.dir, 'images'))).toHaveLength(0)
  })

  it('keeps every variant readable through a master key rotation, which rewraps without touching them', async () => {
    const key = (id: string) => `${id}:${Buffer.alloc(32, id.length).toString('base64')}`
    const first = open({ variants: { widths: [100] }, masterKeys: [key('old')], inlineImageMaxBytes: 0 })
    const record = await first.saveImage(await photo(400, 300), { id: 'p' })
    await first.close()
    backend = createPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, masterKeys: [key('new2'), key('old')] })
    const before = listFiles(path.join(data.dir, 'images')).sort()
    expect(await backend.rotateMasterKey()).toMatchObject({ currentKeyId: 'new2', rewrapped: 1, stillInUse: [] })
    expect(listFiles(path.join(data.dir, 'images')).sort()).toEqual(before)
    const rotated = backend.getImageRecord('p')!
    expect(rotated.meta.key).toBe(record.meta.key)
    expect((await sharp(await variantBytes(backend, rotated, '100.webp')).metadata()).width).toBe(100)
    expect((await backend.verify()).failures).toEqual([])
  })

  it('backfills without a new version, and leaves nothing behind when a writer replaces the image meanwhile', async () => {
    data = tempDir()
    const blobs = createFilesystemBlobStore({ dir: path.join(data.dir, 'blobs') })
    let racing: (() => Promise<unknown>) | undefined
    // A blob store whose next write, once armed, lets a writer update an image first.
    const store = createPixstoreBackend({
      defaultEndpointEnabled: false,
      statelessProofSecret: 'y'.repeat(32),
      masterKeys: `k1:${Buffer.alloc(32, 9).toString('base64')}`,
      inlineImageMaxBytes: 0,
      metadataStore: createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite') }),
      blobStore: {
        ...blobs,
        async write(key, bytes) {
          const race = racing
          racing = undefined
          await race?.()
          return blobs.write(key, bytes)
        },
      },
    })
    backend = store
    const kept = await store.saveImage(await photo(400, 300), { id: 'a-kept' })
    await store.saveImage(await photo(400, 300), { id: 'b-raced' })
    const replacement = await photo(300, 200)
    // "a-kept" comes first in id order and is left alone; "b-raced" is updated while its variants are written.
    const report = await store.backfillVariants({
      variants: { widths: [100, 200] },
      onProgress: (done) => {
        if (done === 1) racing = () => store.updateImage('b-raced', replacement, { variants: false })
      },
    })
    expect(report).toEqual({ checked: 2, made: 1, alreadyDone: 0, changedMeanwhile: 1, failed: [] })
    const after = store.getImageRecord('a-kept')!
    expect(after.token).toBe(kept.token)
    expect(after.variants!.map((v) => `${v.width}.${v.format}`)).toEqual(['100.webp', '200.webp'])
    expect(store.getImageRecord('b-raced')!.variants).toBeUndefined()
    // a-kept: its image and 2 variants; b-raced: its new image only (the raced variants were removed).
    expect(listFiles(path.join(data.dir, 'blobs'))).toHaveLength(4)
    expect((await store.verify()).failures).toEqual([])
  })

  it('never writes a variant made again over one made before (new salt, new key, new file), and keeps what a commit that reported a failure named', async () => {
    data = tempDir()
    const blobs = createFilesystemBlobStore({ dir: path.join(data.dir, 'blobs') })
    const metadata = createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite') })
    const written: string[] = []
    let failWrites = 0
    let failAfterCommit = false
    const store = createPixstoreBackend({
      defaultEndpointEnabled: false,
      statelessProofSecret: 'z'.repeat(32),
      masterKeys: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
      inlineImageMaxBytes: 0,
      // setVariants that takes effect and then reports a failure, as a dropped connection would.
      metadataStore: {
        ...metadata,
        async setVariants(...args) {
          const done = await metadata.setVariants!(...args)
          if (failAfterCommit) throw new Error('connection lost after the commit')
          return done
        },
      },
      blobStore: {
        ...blobs,
        async write(key, bytes) {
          written.push(key)
          if (failWrites > 0 && --failWrites === 0) throw new Error('disk full')
          return blobs.write(key, bytes)
        },
      },
    })
    backend = store
    await store.saveImage(await photo(400, 300), { id: 'p' })
    written.length = 0
    // First run: the second variant's write fails; the first one's file is removed.
    failWrites = 2
    expect((await store.backfillVariants({ variants: { widths: [100, 200] } })).failed).toHaveLength(1)
    const firstRun = [...written]
    expect(listFiles(path.join(data.dir, 'blobs'))).toHaveLength(1)
    // Second run: its commit reports a failure after taking effect; the files it named stay.
    written.length = 0
    failAfterCommit = true
    expect((await store.backfillVariants({ variants: { widths: [100, 200] } })).failed).toHaveLength(1)
    failAfterCommit = false
    expect(written.filter((key) => firstRun.includes(key))).toEqual([])
    const record = store.getImageRecord('p')!
    expect(record.variants!.map((v) => v.width)).toEqual([100, 200])
    expect(new Set(record.variants!.map((v) => v.salt)).size).toBe(2)
    expect((await sharp(await variantBytes(store, record, '200.webp')).metadata()).width).toBe(200)
    expect((await store.verify()).failures).toEqual([])
  })

  it('ignores a variants column written for another version (an older process updating the row), and still serves the record', async () => {
    const store = open({ variants: { widths: [100] } })
    await store.saveImage(await photo(400, 300), { id: 'p', variants: false })
    const db = new Database(path.join(data.dir, 'pixstore.sqlite'))
    const columns = 'token, key_id, wrapped_key, iv, tag, blob_key, format, bytes, width, height, updated_at'
    const plain = db.prepare(`SELECT ${columns} FROM pixstore_images WHERE id = 'p'`).get() as Record<string, unknown>
    await store.updateImage('p', await photo(400, 300))
    expect(store.getImageRecord('p')!.variants).toHaveLength(1)
    // What a Pixstore of schema 2 does on update: a whole new version written, the variants column untouched.
    db.prepare(`UPDATE pixstore_images SET ${columns.split(', ').map((c) => `${c} = @${c}`).join(', ')} WHERE id = 'p'`).run(plain)
    db.close()
    const record = store.getImageRecord('p')!
    expect(record.variants).toBeUndefined()
    expect(record.placeholder).toBeUndefined()
  })

  it('makes and serves variants on stores given as options', async () => {
    data = tempDir()
    backend = createPixstoreBackend({
      defaultEndpointEnabled: false,
      metadataStore: createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite') }),
      blobStore: createFilesystemBlobStore({ dir: path.join(data.dir, 'blobs') }),
      statelessProofSecret: 'x'.repeat(32),
      masterKeys: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
      variants: { widths: [100] },
    })
    const record = await backend.saveImage(await photo(400, 300), { id: 'p' })
    expect((await sharp(await variantBytes(backend, record, '100.webp')).metadata()).width).toBe(100)
  })
})
