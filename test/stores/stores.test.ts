import path from 'node:path'
import { createFilesystemBlobStore, createPostgresMetadataStore, createS3BlobStore, createSqliteMetadataStore } from 'pixstore/backend'
import { tempDir } from '../helpers.js'
import { testBlobStore } from './blob-store.conformance.js'
import { testMetadataStore } from './metadata-store.conformance.js'
import { pgUrl, postgresAvailable, startS3, testSchema } from './services.js'

testMetadataStore('SQLite', async () => {
  const data = tempDir()
  return { store: createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite') }), cleanup: async () => data.remove() }
})

if (await postgresAvailable()) {
  testMetadataStore('PostgreSQL', async () => {
    const { schema, drop } = testSchema()
    return { store: createPostgresMetadataStore({ connectionString: pgUrl, schema }), cleanup: drop }
  })
}

testBlobStore('filesystem', async () => {
  const data = tempDir()
  return { store: createFilesystemBlobStore({ dir: data.dir }), cleanup: async () => data.remove() }
})

testBlobStore('S3 (s3rver)', async () => {
  const s3 = await startS3()
  return { store: createS3BlobStore(s3.options), cleanup: s3.stop }
})
