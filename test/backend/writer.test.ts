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

describe('an image kept as a blob', () => {
  it('is written in parts to a store that takes them, and whole to one that does not', async () => {
    const data = tempDir()
    const files = createFilesystemBlobStore({ dir: path.join(data.dir, 'images') })
    // Noise does not compress: about 750 KB.
    const image = encodePng(500, 500, randomBytes(500 * 500 * 3))
    const calls: { store: string; parts: number[] }[] = []
    const withParts: BlobStore = { ...files, writeParts: async (key, parts) => (calls.push({ store: 'parts', parts: parts.map((p) => p.byteLength) }), files.writeParts!(key, parts)) }
    const wholeOnly: BlobStore = { ...files, writeParts: undefined, write: async (key, bytes) => (calls.push({ store: 'whole', parts: [bytes.byteLength] }), files.write(key, bytes)) }
    try {
      for (const [name, blobStore] of [['parts', withParts], ['whole', wholeOnly]] as const) {
        const backend = createPixstoreBackend({ metadataStore: createSqliteMetadataStore({ file: path.join(data.dir, `${name}.sqlite`) }), blobStore })
        try {
          const record = await backend.saveImage(image, { id: name })
          const call = calls.find((c) => c.store === name)!
          expect(call.parts.reduce((a, b) => a + b, 0)).toBe(1 + image.length)
          if (name === 'parts') expect(call.parts.length).toBeGreaterThan(2)
          else expect(call.parts).toHaveLength(1)
          expect(decryptUpdatedPayload(await backend.customEndpointHelper(name, undefined, record.statelessProof)).equals(image)).toBe(true)
        } finally {
          await backend.close()
        }
      }
    } finally {
      data.remove()
    }
  })
})
