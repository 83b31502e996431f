import path from 'node:path'
import type { BlobStore } from './blob-store.js'
import { createFilesystemBlobStore } from './blob/filesystem.js'
import { createSqliteMetadataStore, type SqliteMetadataStore } from './metadata/sqlite.js'

/** Options of the embedded store pair. */
export interface EmbeddedStoresOptions {
  /** The data directory: `pixstore.sqlite` and `images/` inside it. */
  dataDir: string
  /** Encrypted images up to this many bytes live inside the SQLite file; larger ones are files. */
  inlineMaxBytes: number
}

/**
 * The embedded default: SQLite metadata, and blobs either inside the same database (small
 * ones, written in the same transaction as their metadata) or as files under `images/`
 * (written and synced before the metadata commits).
 */
export function createEmbeddedStores(options: EmbeddedStoresOptions): { metadata: SqliteMetadataStore; blobs: BlobStore } {
  const metadata = createSqliteMetadataStore({ file: path.join(options.dataDir, 'pixstore.sqlite') })
  const files = createFilesystemBlobStore({ dir: path.join(options.dataDir, 'images') })
  const { inline } = metadata
  const blobs: BlobStore = {
    async write(key, bytes) {
      if (bytes.byteLength <= options.inlineMaxBytes) inline.stage(key, bytes)
      else await files.write(key, bytes)
    },
    async read(key) {
      return inline.read(key) ?? files.read(key)
    },
    async open(key) {
      const bytes = inline.read(key)
      if (!bytes) return files.open!(key)
      return {
        size: bytes.byteLength,
        body: (async function* () {
          yield bytes
        })(),
      }
    },
    async delete(key) {
      inline.unstage(key)
      inline.delete(key)
      await files.delete(key)
    },
    async *list() {
      yield* inline.list()
      yield* files.list!()
    },
    close: () => files.close(),
  }
  return { metadata, blobs }
}
