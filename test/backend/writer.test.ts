import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createFilesystemBlobStore, createPixstoreBackend, createSqliteMetadataStore, type MetadataStore, type PixstoreBackend } from 'pixstore/backend'
import { PixstoreError } from 'pixstore/shared'
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
