import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { PixstoreError } from '../shared/errors.js'
import { readMasterKeyFile } from '../backend/master-keys.js'
import { createPixstoreBackend } from '../backend/pixstore-backend.js'
import type { BlobStore } from '../backend/stores/blob-store.js'
import type { MetadataStore } from '../backend/stores/metadata-store.js'
import { createEmbeddedStores } from '../backend/stores/embedded.js'
import { countImages, everyImage } from '../backend/stores/every-image.js'
import { storedBlobs } from '../backend/stores/stored-blobs.js'
import { blobKeysOf } from '../backend/variants/crypto.js'
import { readBack } from './read-back.js'

/** What `migrate` did. */
export interface MigrationReport {
  /** Rows in the source. */
  source: number
  copied: number
  /** Already in the destination with the same token (copied by an earlier run). */
  alreadyThere: number
  /** Ids the destination holds with another token: left alone, listed for a person to look at. */
  conflicts: string[]
  /** Images decrypted on both sides and compared. */
  sampled: number
  sampleMismatches: string[]
}

/** Where to copy to and how to report progress. */
export interface MigrationTarget {
  metadata: MetadataStore
  blobs: BlobStore
  /** Called after each row. */
  onProgress?: (done: number, total: number) => void
  /** How many images to decrypt on both sides at the end. Default 20. */
  sampleSize?: number
}

/**
 * Copies every image of an embedded data directory into other stores, its variants
 * included, ciphertext and wrapped keys as they are (nothing is decrypted on the way). Each blob is written before
 * its row, so an interrupted run leaves no row without its blob; running it again skips
 * what is already there. Afterwards it compares a sample of images decrypted on both sides.
 */
export async function migrate(fromDataDir: string, target: MigrationTarget): Promise<MigrationReport> {
  const sqliteFile = path.join(fromDataDir, 'pixstore.sqlite')
  if (!fs.existsSync(sqliteFile)) throw new PixstoreError('INVALID_CONFIG', `No Pixstore data in ${fromDataDir}`)
  const embedded = createEmbeddedStores({ dataDir: fromDataDir, inlineMaxBytes: 0 })
  const source = embedded.metadata
  const sourceBlobs = storedBlobs(source, embedded.blobs)
  const { metadata, blobs } = target
  if (!metadata.import) throw new PixstoreError('UNSUPPORTED', 'The destination metadata store cannot import rows')
  const report: MigrationReport = { source: 0, copied: 0, alreadyThere: 0, conflicts: [], sampled: 0, sampleMismatches: [] }
  const ids: string[] = []
  try {
    // Reach both destination stores before anything else, so that a wrong URL or bucket
    // fails the run even when the source is empty.
    await metadata.list(undefined, 1)
    if (blobs.list) for await (const blob of blobs.list()) if (blob) break
    const total = await countImages(source)
    for await (const row of everyImage(source, 200)) {
      report.source++
      const existing = await metadata.get(row.id)
      if (existing) {
        if (existing.token === row.token && existing.blobKey === row.blobKey) {
          report.alreadyThere++
          ids.push(row.id)
        } else report.conflicts.push(row.id)
      } else {
        // The version's own blob and its variants', all before the row.
        for (const key of blobKeysOf(row)) {
          const ciphertext = await sourceBlobs.read(key)
          if (!ciphertext) throw new PixstoreError('STORAGE_FAILED', `An encrypted file of image "${row.id}" is missing in the source`)
          await blobs.write(key, ciphertext)
        }
        if (await metadata.import(row)) {
          report.copied++
          ids.push(row.id)
        } else report.conflicts.push(row.id)
      }
      target.onProgress?.(report.source, total)
    }
    await compareSample(fromDataDir, target, pickSample(ids, target.sampleSize ?? 20), report)
    return report
  } finally {
    await source.close()
  }
}

function pickSample(ids: string[], size: number): string[] {
  if (ids.length <= size) return ids
  const picked = new Set([ids[0]!, ids[ids.length - 1]!])
  while (picked.size < size) picked.add(ids[randomBytes(4).readUInt32BE() % ids.length]!)
  return [...picked]
}

// Decrypts each sampled image through a backend on each side and compares the bytes. The
// master keys are the ones the source was written under: PIXSTORE_MASTER_KEY, else its file.
async function compareSample(fromDataDir: string, target: MigrationTarget, ids: string[], report: MigrationReport): Promise<void> {
  const masterKeys = process.env.PIXSTORE_MASTER_KEY ? undefined : readMasterKeyFile(fromDataDir)
  const secret = randomBytes(32).toString('base64url')
  const common = { statelessProofSecret: secret, masterKeys }
  const before = createPixstoreBackend({ ...common, dataDir: fromDataDir })
  // The destination stores stay open for the caller, who closes them.
  const keepOpen = async () => undefined
  const after = createPixstoreBackend({
    ...common,
    metadataStore: { ...target.metadata, close: keepOpen },
    blobStore: { ...target.blobs, close: keepOpen },
  })
  try {
    for (const id of ids) {
      const [left, right] = await Promise.all([before, after].map((backend) => readBack(backend, id)))
      report.sampled++
      if (!left || !right || !left.equals(right)) report.sampleMismatches.push(id)
    }
  } finally {
    await Promise.all([before.close(), after.close()])
  }
}
