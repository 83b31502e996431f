import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createFilesystemBlobStore, createPixstoreBackend, createSqliteMetadataStore, type BlobStore, type MetadataStore, type PixstoreBackend } from 'pixstore/backend'
import { PixstoreError } from 'pixstore/shared'
import { encodePng } from '../../demo/sample-images.js'
import { decryptUpdatedPayload, fixture, listFiles, tempDir } from '../helpers.js'

// A metadata store whose commit takes effect and then fails, as a database does when the
// connection drops or the client's timeout fires while it commits.
function lostAcknowledgement(store: MetadataStore, readsFail = false): MetadataStore {
  return {
    ...store,
    async commit(version, mode, inlineBlob) {
      await store.commit(version, mode, inlineBlob)
      throw new PixstoreError('STORAGE_FAILED', 'PostgreSQL failed to commit: Connection terminated unexpectedly')
    },
    get: readsFail ? async () => Promise.reject(new PixstoreError('STORAGE_FAILED', 'the database is gone')) : store.get,
  }
}

describe('a commit that took effect but reported a failure', () => {
  let data: ReturnType<typeof tempDir>
  let backend: PixstoreBackend | undefined
  afterEach(async () => {
    await backend?.close()
    data.remove()
  })
  const open = (readsFail = false) => {
    data = tempDir()
    const metadata = createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite') })
    backend = createPixstoreBackend({
      metadataStore: lostAcknowledgement(metadata, readsFail),
      blobStore: createFilesystemBlobStore({ dir: path.join(data.dir, 'images') }),
    })
    return backend
  }

  it('is a success: the image reads back, its file kept', async () => {
    const store = open()
    const record = await store.saveImage(fixture('sample.png'), { id: 'kept' })
    expect(record.id).toBe('kept')
    const payload = await store.customEndpointHelper('kept', undefined, record.statelessProof)
    expect(decryptUpdatedPayload(payload).equals(fixture('sample.png'))).toBe(true)
    const updated = await store.updateImage('kept', fixture('sample.webp'))
    expect(decryptUpdatedPayload(await store.customEndpointHelper('kept', undefined, updated.statelessProof)).equals(fixture('sample.webp'))).toBe(true)
  })

  it('keeps the file when the row cannot be read back, and reports the failure', async () => {
    const store = open(true)
    await expect(store.saveImage(fixture('sample.png'), { id: 'unknown' })).rejects.toMatchObject({ code: 'STORAGE_FAILED' })
    // The row may name it: the file stays (gc removes it if no row does).
    expect(listFiles(path.join(data.dir, 'images'))).toHaveLength(1)
  })
})

describe('the blobs of a replaced version', () => {
  it('are removed after the update resolves, without holding it up, and closing waits for them', async () => {
    const data = tempDir()
    const images = path.join(data.dir, 'images')
    const files = createFilesystemBlobStore({ dir: images })
    // A store whose deletes hang until released, as a slow object store's can.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const deleting: string[] = []
    const backend = createPixstoreBackend({
      metadataStore: createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite') }),
      blobStore: { ...files, delete: async (key) => (deleting.push(key), await held, files.delete(key)) },
    })
    try {
      const first = await backend.saveImage(fixture('sample.png'), { id: 'a' })
      const second = await backend.updateImage('a', fixture('sample.jpg'))
      expect(second.token).toBeGreaterThan(first.token)
      expect(deleting).toHaveLength(1)
      expect(listFiles(images)).toHaveLength(2)
      let closed = false
      const closing = backend.close().then(() => (closed = true))
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(closed).toBe(false)
      release()
      await closing
      expect(listFiles(images)).toHaveLength(1)
    } finally {
      release()
      await backend.close()
      data.remove()
    }
  })
})

describe('the removals of replaced versions under way', () => {
  it('are at most 64: past that, an update waits for its own', async () => {
    const data = tempDir()
    const files = createFilesystemBlobStore({ dir: path.join(data.dir, 'images') })
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const backend = createPixstoreBackend({
      metadataStore: createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite') }),
      blobStore: { ...files, delete: async (key) => (await held, files.delete(key)) },
    })
    try {
      await backend.saveImage(fixture('sample.png'), { id: 'a' })
      for (let i = 0; i < 64; i++) await backend.updateImage('a', fixture('sample.png'))
      let done = false
      const waiting = backend.updateImage('a', fixture('sample.png')).then(() => (done = true))
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(done).toBe(false)
      release()
      await waiting
      await backend.close()
      expect(listFiles(path.join(data.dir, 'images'))).toHaveLength(1)
    } finally {
      release()
      await backend.close()
      data.remove()
    }
  }, 60_000)
})

describe('an image kept as a blob', () => {
  it('reaches the write of a store the app wraps whole, and the filesystem store itself in parts', async () => {
    const data = tempDir()
    const files = createFilesystemBlobStore({ dir: path.join(data.dir, 'images') })
    // Noise does not compress: about 750 KB.
    const image = encodePng(500, 500, randomBytes(500 * 500 * 3))
    const write = files.write
    const wrapped: number[] = []
    const wrapper: BlobStore = { ...files, write: async (key, bytes) => (wrapped.push(bytes.byteLength), write(key, bytes)) }
    // The store itself, its write watched: a large image does not go through it.
    const direct: number[] = []
    const own = Object.assign(files, { write: async (key: string, bytes: Uint8Array) => (direct.push(bytes.byteLength), write(key, bytes)) })
    try {
      for (const [name, blobStore] of [['wrapped', wrapper], ['own', own]] as const) {
        const backend = createPixstoreBackend({ metadataStore: createSqliteMetadataStore({ file: path.join(data.dir, `${name}.sqlite`) }), blobStore })
        try {
          const record = await backend.saveImage(image, { id: name })
          expect(decryptUpdatedPayload(await backend.customEndpointHelper(name, undefined, record.statelessProof)).equals(image)).toBe(true)
        } finally {
          await backend.close()
        }
      }
      expect(wrapped).toEqual([1 + image.length])
      expect(direct).toEqual([])
    } finally {
      data.remove()
    }
  })
})
