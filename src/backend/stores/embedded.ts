import path from 'node:path'
import type { BlobStore } from './blob-store.js'
import { createFilesystemBlobStore } from './blob/filesystem.js'
import { openSqliteMetadataStore, type SqliteMetadataStore } from './metadata/sqlite.js'

/** Options of the embedded store pair. */
export interface EmbeddedStoresOptions {
  /** The data directory: `pixstore.sqlite` and `images/` inside it. */
  dataDir: string
  /** Encrypted images up to this many bytes live inside the SQLite file; larger ones are files. */
  inlineMaxBytes: number
}

/**
 * The embedded default: SQLite metadata, which keeps small blobs itself (committed with
 * the row that names them), and larger blobs as files under `images/` (written and synced
 * before the metadata commits).
 */
export function createEmbeddedStores(options: EmbeddedStoresOptions): { metadata: SqliteMetadataStore; blobs: BlobStore } {
  return {
    metadata: openSqliteMetadataStore({ file: path.join(options.dataDir, 'pixstore.sqlite'), inlineMaxBytes: options.inlineMaxBytes }),
    blobs: createFilesystemBlobStore({ dir: path.join(options.dataDir, 'images') }),
  }
}
