import path from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { samplePicture } from '../../demo/sample-images.js'
import { fixture, listFiles, tempDir } from '../helpers.js'

const inlineKeys = (dataDir: string) => {
  const db = new Database(path.join(dataDir, 'pixstore.sqlite'), { readonly: true })
  try {
    return db.prepare('SELECT key FROM pixstore_inline_blobs ORDER BY key').pluck().all() as string[]
  } finally {
    db.close()
  }
}

describe('the embedded store', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  afterEach(async () => {
    await backend.close()
    data.remove()
  })

  it('keeps images up to inlineImageMaxBytes inside the database and larger ones as files, moving them as they change', async () => {
    const small = fixture('sample.png') // 2 KB
    const large = samplePicture(1, 200)
    expect(large.length).toBeGreaterThan(small.length + 1000)
    backend = createPixstoreBackend({ dataDir: data.dir, inlineImageMaxBytes: small.length + 100 })
    const images = path.join(data.dir, 'images')
    await backend.saveImage(small, { id: 'a' })
    await backend.saveImage(large, { id: 'b' })
    expect(inlineKeys(data.dir)).toHaveLength(1)
    expect(listFiles(images)).toHaveLength(1)

    // Small to large and large to small: each old blob goes with its commit.
    await backend.updateImage('a', large)
    await backend.updateImage('b', small)
    expect(inlineKeys(data.dir)).toHaveLength(1)
    expect(listFiles(images)).toHaveLength(1)
    expect((await backend.verify()).failures).toEqual([])
    const stats = await backend.stats()
    expect(stats.blobs).toEqual({ count: 2, bytes: small.length + 1 + large.length + 1 })

    await backend.deleteImage('a')
    await backend.deleteImage('b')
    expect(inlineKeys(data.dir)).toEqual([])
    expect(listFiles(images)).toEqual([])
  })

  it('leaves nothing behind when a commit is refused', async () => {
    backend = createPixstoreBackend({ dataDir: data.dir })
    await backend.saveImage(fixture('sample.png'), { id: 'taken' })
    await expect(backend.saveImage(fixture('sample.jpg'), { id: 'taken' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' })
    expect(inlineKeys(data.dir)).toHaveLength(1)
    expect((await backend.stats()).blobs?.count).toBe(1)
  })
})
