import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { S3Client } from '@aws-sdk/client-s3'
import pg from 'pg'
import { describe, expect, it, vi } from 'vitest'
import { createFilesystemBlobStore, createPostgresMetadataStore, createS3BlobStore, createSqliteMetadataStore } from 'pixstore/backend'
import { openFilesUnder, tempDir } from '../helpers.js'
import { writeBlob } from '../../src/backend/stores/write-blobs.js'
import { testBlobStore } from './blob-store.conformance.js'
import { testMetadataStore } from './metadata-store.conformance.js'
import { pgUrl, postgresAvailable, startS3, testSchema } from './services.js'

testMetadataStore('SQLite', async () => {
  const data = tempDir()
  return { store: createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite'), inlineMaxBytes: 1024 }), cleanup: async () => data.remove() }
})

if (await postgresAvailable()) {
  testMetadataStore('PostgreSQL', async () => {
    const { schema, drop } = testSchema()
    return { store: createPostgresMetadataStore({ connectionString: pgUrl, schema }), cleanup: drop }
  })
  // An app's own pg Pool, as it is: the store's option type takes it without a cast.
  testMetadataStore('PostgreSQL on an app-supplied pg.Pool', async () => {
    const { schema, drop } = testSchema()
    const pool = new pg.Pool({ connectionString: pgUrl, max: 4 })
    return { store: createPostgresMetadataStore({ pool, schema }), cleanup: async () => (await pool.end(), await drop()) }
  })
}

testBlobStore('filesystem', async () => {
  const data = tempDir()
  return { store: createFilesystemBlobStore({ dir: data.dir }), cleanup: async () => data.remove() }
})

describe('the filesystem blob store', () => {
  it('writes into a sub-folder removed by hand since its last write', async () => {
    const data = tempDir()
    const store = createFilesystemBlobStore({ dir: data.dir })
    try {
      const first = `ab${randomBytes(15).toString('hex')}`
      await store.write(first, randomBytes(100))
      fs.rmSync(path.join(data.dir, 'ab'), { recursive: true })
      const second = `ab${randomBytes(15).toString('hex')}`
      await store.write(second, Buffer.from('kept'))
      expect(Buffer.from((await store.read(second))!).toString()).toBe('kept')
    } finally {
      await store.close()
      data.remove()
    }
  })

  it('writes a blob given in parts as one, however many and however small, without joining them', async () => {
    const data = tempDir()
    const store = createFilesystemBlobStore({ dir: data.dir })
    const write = vi.spyOn(store, 'write')
    try {
      const big = randomBytes(600_000)
      // An empty part, a 1-byte part, and more parts than one writev takes (1,024 on Linux).
      const parts = [Buffer.alloc(0), Buffer.from([7]), big.subarray(0, 262_144), big.subarray(262_144), ...Array.from({ length: 1500 }, (_, i) => Buffer.from([i & 255]))]
      const key = randomBytes(16).toString('hex')
      await writeBlob(store, { key, bytes: parts })
      expect(write).not.toHaveBeenCalled()
      expect(Buffer.from((await store.read(key))!).equals(Buffer.concat(parts))).toBe(true)
    } finally {
      await store.close()
      data.remove()
    }
  })

  it('streams into the buffers the caller allocates, and closes the file of a stream never read', async () => {
    const data = tempDir()
    const store = createFilesystemBlobStore({ dir: data.dir })
    try {
      const key = randomBytes(16).toString('hex')
      const bytes = randomBytes(1_500_000)
      await store.write(key, bytes)
      const given = new Set<ArrayBufferLike>()
      const allocate = (length: number) => {
        const buffer = Buffer.allocUnsafeSlow(length)
        given.add(buffer.buffer)
        return buffer
      }
      const opened = (await store.open!(key, allocate))!
      const chunks: Uint8Array[] = []
      for await (const chunk of opened.body) chunks.push(chunk)
      // (equals: a deep comparison of 1.5 MB takes seconds)
      expect(Buffer.concat(chunks).equals(bytes)).toBe(true)
      expect(chunks.length).toBeGreaterThan(1)
      expect(chunks.every((chunk) => given.has(chunk.buffer))).toBe(true)
      await expect.poll(() => openFilesUnder(data.dir)).toBe(0)

      const unread = (await store.open!(key))!
      expect(openFilesUnder(data.dir)).toBe(1)
      ;(unread.body as { destroy?: () => void }).destroy?.()
      await expect.poll(() => openFilesUnder(data.dir)).toBe(0)
    } finally {
      await store.close()
      data.remove()
    }
  })
})

testBlobStore('S3 (s3rver)', async () => {
  const s3 = await startS3()
  return { store: createS3BlobStore(s3.options), cleanup: s3.stop }
})

testBlobStore('S3 (s3rver) on an app-supplied S3Client', async () => {
  const s3 = await startS3()
  const { bucket, endpoint, region, forcePathStyle, credentials } = s3.options
  const client = new S3Client({ endpoint, region, forcePathStyle, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
  return { store: createS3BlobStore({ bucket, client }), cleanup: async () => (client.destroy(), await s3.stop()) }
})
