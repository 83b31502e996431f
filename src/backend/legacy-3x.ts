import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { PixstoreError } from '../shared/errors.js'
import { writeFileAtomic } from './atomic-file.js'
import type { LegacyLocations } from './legacy-config.js'

// A pixstore 3.x data set, as 3.x wrote it: one SQLite file with a table `image_records`
// (id, token: the write time in ms, meta: JSON of the image's AES-GCM key, IV and tag in
// the clear), and one file per image, `<root>/<id>.pixstore-image`, or
// `<root>/<prefix>/<rest>.pixstore-image` for an id with a colon; each file is the AES-GCM
// ciphertext of `[format byte][image bytes]`. Pixstore only ever reads these files.

/** The database file and images folder of a pixstore 3.x app. */
export interface LegacyDataSet {
  databasePath: string
  imageRootDir: string
}

/** One row of a 3.x database; `meta` is `undefined` when its JSON is not a key, IV and tag. */
export interface LegacyRow {
  id: string
  token: number
  meta: { key: Buffer; iv: Buffer; tag: Buffer } | undefined
}

/**
 * The places a 3.x app keeps its data without the options: the documented defaults, and
 * those the published 3.2.1 build used (it shipped with its test settings).
 */
const defaultSets: readonly LegacyDataSet[] = [
  { databasePath: '.pixstore.sqlite', imageRootDir: 'pixstore-images' },
  { databasePath: '.pixstore-test.sqlite', imageRootDir: 'pixstore-test-images' },
]

/** The 3.x data sets an app's options point at: the paths it names, else the 3.x defaults. */
export function legacyCandidates(named: LegacyLocations): LegacyDataSet[] {
  const { databasePath, imageRootDir } = named
  if (databasePath !== undefined) return [{ databasePath, imageRootDir: imageRootDir ?? path.resolve(defaultSets[0]!.imageRootDir) }]
  return defaultSets.map((set) => ({ databasePath: path.resolve(set.databasePath), imageRootDir: imageRootDir ?? path.resolve(set.imageRootDir) }))
}

/** The file 3.x kept the image `id` in. */
export function legacyImageFile(imageRootDir: string, id: string): string {
  // 3.x split the id at its colons and used the first two parts.
  const [prefix, key] = id.split(':')
  return prefix && key ? path.join(imageRootDir, prefix, `${key}.pixstore-image`) : path.join(imageRootDir, `${id}.pixstore-image`)
}

/** A 3.x database, opened read-only. */
export interface LegacyDatabase {
  count(): number
  /** Up to `limit` rows with ids after `after`, in id order. */
  page(after: string | undefined, limit: number): LegacyRow[]
  close(): void
}

/**
 * Opens a 3.x database read-only (the file is never written), or returns `undefined` if
 * `file` does not exist or is not a 3.x database.
 */
export function openLegacyDatabase(file: string): LegacyDatabase | undefined {
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) return undefined
  let db: Database.Database
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'image_records'").get()
    if (!table) {
      db.close()
      return undefined
    }
  } catch {
    return undefined
  }
  const first = db.prepare<[number], RawRow>('SELECT id, token, meta FROM image_records ORDER BY id LIMIT ?')
  const after = db.prepare<[string, number], RawRow>('SELECT id, token, meta FROM image_records WHERE id > ? ORDER BY id LIMIT ?')
  return {
    count: () => db.prepare('SELECT count(*) FROM image_records').pluck().get() as number,
    page: (from, limit) => (from === undefined ? first.all(limit) : after.all(from, limit)).map(toLegacyRow),
    close: () => db.close(),
  }
}

interface RawRow {
  id: unknown
  token: unknown
  meta: unknown
}

function toLegacyRow(row: RawRow): LegacyRow {
  return { id: String(row.id), token: Number(row.token), meta: parseMeta(row.meta) }
}

function parseMeta(meta: unknown): LegacyRow['meta'] {
  try {
    const parsed = JSON.parse(String(meta)) as Record<string, unknown>
    const [key, iv, tag] = (['key', 'iv', 'tag'] as const).map((name) => (typeof parsed[name] === 'string' ? Buffer.from(parsed[name], 'base64') : undefined))
    if (key?.length !== 32 || iv === undefined || iv.length === 0 || tag?.length !== 16) return undefined
    return { key, iv, tag }
  } catch {
    return undefined
  }
}

/** The first of the app's 3.x data sets that holds images, with their number. */
export function findLegacyData(named: LegacyLocations): (LegacyDataSet & { images: number }) | undefined {
  for (const set of legacyCandidates(named)) {
    const db = openLegacyDatabase(set.databasePath)
    if (!db) continue
    try {
      const images = db.count()
      if (images > 0) return { ...set, images }
    } catch {
      // Unreadable as a 3.x database: not one.
    } finally {
      db.close()
    }
  }
  return undefined
}

/** The file `pixstore import-3x` leaves in a data directory once a run has copied every image. */
const importedMarker = (dataDir: string) => path.join(dataDir, 'imported-3x.json')

/** Records that an import into `dataDir` is complete (every image copied, or the failures accepted). */
export function markImported(dataDir: string, summary: object): void {
  writeFileAtomic(importedMarker(dataDir), JSON.stringify({ ...summary, finishedAt: new Date().toISOString() }, null, 2) + '\n')
}

/**
 * Refuses to start an embedded store beside a 3.x data set holding images until an import
 * into it has finished: the app would run without them, or with some of them (an import
 * that failed or was stopped). The error names the import command.
 *
 * @throws PixstoreError `IMPORT_REQUIRED`
 */
export function refuseUnimportedLegacyData(dataDir: string, named: LegacyLocations): void {
  if (fs.existsSync(importedMarker(dataDir))) return
  const found = findLegacyData(named)
  if (!found) return
  const relative = (file: string) => {
    const shown = path.relative(process.cwd(), file) || '.'
    return /^[\w./-]+$/.test(shown) ? shown : `'${shown.replaceAll("'", "'\\''")}'`
  }
  throw new PixstoreError(
    'IMPORT_REQUIRED',
    `${relative(found.databasePath)} holds ${found.images} image(s) written by pixstore 3.x, and no import into the data directory ${relative(dataDir)} has finished. ` +
      `Import them first (the 3.x files are only read; or move the 3.x database away to start without them): npx pixstore import-3x --database ${relative(found.databasePath)} ` +
      `--images ${relative(found.imageRootDir)} --data-dir ${relative(dataDir)}`,
  )
}
