import { isPixstoreError, PixstoreError } from '../shared/errors.js'
import { isValidId } from '../shared/ids.js'
import { decryptImage } from '../backend/encryption.js'
import { readImageFileWithin } from '../backend/image-file.js'
import { legacyImageFile, openLegacyDatabase, type LegacyDataSet, type LegacyRow } from '../backend/legacy-3x.js'
import type { PixstoreBackend } from '../backend/pixstore-backend.js'
import { readBack } from './read-back.js'

/** What `pixstore import-3x` did. */
export interface LegacyImportReport {
  /** Images in the 3.x database. */
  source: number
  /** Ids copied by this run. */
  copied: string[]
  /** Ids the 3.x app changed after an earlier run copied them: copied again. */
  updated: string[]
  /** Images Pixstore holds already, at the 3.x version or a later one (copied by an earlier run, or changed since in Pixstore). */
  alreadyThere: number
  /** Images that could not be read or copied, and why; nothing was written for them. */
  failed: { id: string; reason: string }[]
}

/** Largest 3.x image file the import reads: 3.x set no limit, so neither does the import, short of this. */
export const LEGACY_MAX_IMAGE_BYTES = 1024 * 1024 * 1024

/**
 * Copies every image of a pixstore 3.x data set into `backend` under its 3.x id: each is
 * decrypted with its 3.x key and saved as a new Pixstore version (a new data key, wrapped
 * under the master key), byte for byte (the backend must keep metadata), then read back
 * and compared. The 3.x files are only read. A run can stop anywhere: the next one copies
 * what is missing, and again what the 3.x app changed since (the newer version wins, by
 * the time each side wrote it).
 *
 * @throws PixstoreError `INVALID_ARGUMENT` if the database is not a 3.x database.
 */
export async function importLegacy(
  set: LegacyDataSet,
  backend: PixstoreBackend,
  onProgress: (done: number, total: number) => void,
): Promise<LegacyImportReport> {
  const db = openLegacyDatabase(set.databasePath)
  if (!db) throw new PixstoreError('INVALID_ARGUMENT', `${set.databasePath} is not a pixstore 3.x database`)
  const report: LegacyImportReport = { source: 0, copied: [], updated: [], alreadyThere: 0, failed: [] }
  try {
    const total = db.count()
    for (let after: string | undefined; ; ) {
      const rows = db.page(after, 200)
      if (rows.length === 0) break
      for (const row of rows) {
        report.source++
        const problem = await copyRow(set, backend, row, report)
        if (problem) report.failed.push({ id: row.id, reason: problem })
        onProgress(report.source, total)
      }
      after = rows[rows.length - 1]!.id
    }
    return report
  } finally {
    db.close()
  }
}

/** Copies one row; returns why it could not, if it could not. */
async function copyRow(set: LegacyDataSet, backend: PixstoreBackend, row: LegacyRow, report: LegacyImportReport): Promise<string | undefined> {
  if (!isValidId(row.id)) return 'its id is not one Pixstore accepts (up to 200 letters, digits and _ . : @ -)'
  try {
    const existing = await backend.getImageRecordAsync(row.id)
    // Pixstore's tokens and 3.x's are both the write time in ms.
    if (existing && existing.token >= row.token) {
      report.alreadyThere++
      return undefined
    }
    if (!row.meta) return 'its database record holds no valid key, IV and tag'
    const file = legacyImageFile(set.imageRootDir, row.id)
    let ciphertext: Uint8Array
    try {
      ciphertext = await readImageFileWithin(file, LEGACY_MAX_IMAGE_BYTES)
    } catch (error) {
      return `its file ${file} could not be read (${isPixstoreError(error) ? error.message : String(error)})`
    }
    const image = decryptLegacy(ciphertext, row.meta)
    if (!image) return `its file ${file} does not decrypt with its key (damaged, or replaced)`
    if (existing) await backend.updateImage(row.id, image)
    else await backend.saveImage(image, { id: row.id })
    const copy = await readBack(backend, row.id)
    if (!copy?.equals(image)) return 'the copy reads back other bytes than the 3.x image'
    ;(existing ? report.updated : report.copied).push(row.id)
    return undefined
  } catch (error) {
    return isPixstoreError(error) ? `${error.code}: ${error.message}` : String(error)
  }
}

/** The image bytes of a 3.x file (its plaintext without the format byte), or `undefined` if it does not authenticate. */
function decryptLegacy(ciphertext: Uint8Array, meta: NonNullable<LegacyRow['meta']>): Buffer | undefined {
  try {
    const plain = decryptImage(ciphertext, meta.key, meta.iv, meta.tag)
    return plain.length > 1 ? plain.subarray(1) : undefined
  } catch {
    return undefined
  }
}
