import { ownProperties } from '../../../shared/options.js'
import { PixstoreError } from '../../../shared/errors.js'
import { fromRow, inIdOrder, variantsColumn, type ImageRow } from './row.js'
import { createRowCache } from './row-cache.js'
import { openSqliteDatabase } from './sqlite-schema.js'
import { retiredKeyError, type ImageVersion, type InstanceInfo, type MetadataStore, type StoredImage, type WrappedKey } from '../metadata-store.js'

/** Options of the embedded SQLite metadata store. */
export interface SqliteMetadataStoreOptions {
  /** Path of the database file; created if missing. */
  file: string
  /** Blobs up to this many bytes are committed inside the database (`inlineBlobs`); 0 for none. Default 0. */
  inlineMaxBytes?: number
}

/** The SQLite store as the embedded backend uses it: with its synchronous key id query. */
export interface SqliteMetadataStore extends MetadataStore {
  getSync(id: string): StoredImage | undefined
  getManySync(ids: readonly string[]): (StoredImage | undefined)[]
  /** Ids of the master keys the stored data keys are wrapped under, read synchronously (at start-up). */
  keyIdsInUseSync(): string[]
}

/**
 * The embedded metadata store: one SQLite file in WAL mode, shared safely by several
 * processes on one machine. Reads are synchronous, so `getImageRecord` works without `await`.
 * The rows of recent reads are kept in memory while the database is unchanged (any commit,
 * by any process, drops them), and handed out frozen.
 */
export function createSqliteMetadataStore(options: SqliteMetadataStoreOptions): MetadataStore {
  return openSqliteMetadataStore(options)
}

/** {@link createSqliteMetadataStore}, with the synchronous key id query the embedded backend needs at start-up. */
export function openSqliteMetadataStore(given: SqliteMetadataStoreOptions): SqliteMetadataStore {
  const options = ownProperties(given)
  const inlineMaxBytes = options.inlineMaxBytes ?? 0
  if (!Number.isSafeInteger(inlineMaxBytes) || inlineMaxBytes < 0) {
    throw new PixstoreError('INVALID_CONFIG', 'createSqliteMetadataStore: inlineMaxBytes must be a whole number of bytes')
  }
  const db = openSqliteDatabase(options.file)

  const select = db.prepare<[string], ImageRow>('SELECT * FROM pixstore_images WHERE id = ?')
  // One statement for a whole list of ids, passed as one JSON array.
  const selectMany = db.prepare<[string], ImageRow>('SELECT * FROM pixstore_images WHERE id IN (SELECT value FROM json_each(?))')
  // Tokens come from one clock row for the whole store, so they grow across ids and across
  // delete and re-create. Starting from the wall clock keeps them growing even after a
  // restore from an older backup; `last + 1` keeps them strictly growing within a millisecond.
  const nextToken = db
    .prepare<[number], number>('UPDATE pixstore_clock SET last_token = max(last_token + 1, ?) WHERE id = 1 RETURNING last_token')
    .pluck()
  const insert = db.prepare(
    `INSERT INTO pixstore_images (id, token, key_id, wrapped_key, iv, tag, blob_key, format, bytes, width, height, updated_at, variants)
     VALUES (@id, @token, @keyId, @wrappedKey, @iv, @tag, @blobKey, @format, @bytes, @width, @height, @updatedAt, @variants)`,
  )
  const update = db.prepare(
    `UPDATE pixstore_images SET token = @token, key_id = @keyId, wrapped_key = @wrappedKey, iv = @iv, tag = @tag,
       blob_key = @blobKey, format = @format, bytes = @bytes, width = @width, height = @height, updated_at = @updatedAt,
       variants = @variants
     WHERE id = @id`,
  )
  const remove = db.prepare('DELETE FROM pixstore_images WHERE id = ?')
  const updateVariants = db.prepare('UPDATE pixstore_images SET variants = ? WHERE id = ? AND blob_key = ?')
  // The named parameters of a row; better-sqlite3 refuses `undefined` and unknown names.
  const asRow = ({ variants, placeholder, ...image }: StoredImage) => ({ ...image, variants: variantsColumn({ blobKey: image.blobKey, variants, placeholder }) })
  const listFirst = db.prepare<[number], ImageRow>('SELECT * FROM pixstore_images ORDER BY id LIMIT ?')
  const listAfter = db.prepare<[string, number], ImageRow>('SELECT * FROM pixstore_images WHERE id > ? ORDER BY id LIMIT ?')
  const rekey = db.prepare(
    `UPDATE pixstore_images SET key_id = @toKeyId, wrapped_key = @toWrappedKey
     WHERE id = @id AND blob_key = @blobKey AND key_id = @fromKeyId AND wrapped_key = @fromWrappedKey
       AND NOT EXISTS (SELECT 1 FROM pixstore_retired_keys WHERE id = @toKeyId)`,
  )

  const insertInline = db.prepare('INSERT INTO pixstore_inline_blobs (key, data, created_at) VALUES (?, ?, ?)')
  const selectInline = db.prepare<[string], Buffer>('SELECT data FROM pixstore_inline_blobs WHERE key = ?').pluck()
  const selectWithInline = db.prepare<[string], ImageRow & { inline_data: Buffer | null }>(
    'SELECT i.*, b.data AS inline_data FROM pixstore_images i LEFT JOIN pixstore_inline_blobs b ON b.key = i.blob_key WHERE i.id = ?',
  )
  const deleteInline = db.prepare('DELETE FROM pixstore_inline_blobs WHERE key = ?')
  const listInline = db.prepare<[], { key: string; size: number; created_at: number }>(
    'SELECT key, length(data) AS size, created_at FROM pixstore_inline_blobs ORDER BY key',
  )

  const isRetired = db.prepare<[string], number>('SELECT 1 FROM pixstore_retired_keys WHERE id = ?').pluck()
  const refuseRetired = (keyId: string) => {
    if (isRetired.get(keyId)) throw retiredKeyError(keyId)
  }

  const commit = db.transaction((version: ImageVersion, mode: 'create' | 'update', inlineBlob: Uint8Array | undefined) => {
    refuseRetired(version.keyId)
    const previous = select.get(version.id)
    if (mode === 'create' && previous) throw new PixstoreError('ALREADY_EXISTS', `An image with id "${version.id}" already exists`)
    if (mode === 'update' && !previous) throw new PixstoreError('NOT_FOUND', `No image with id "${version.id}"`)
    const updatedAt = Date.now()
    const image: StoredImage = { ...version, token: nextToken.get(updatedAt)!, updatedAt }
    if (inlineBlob) insertInline.run(version.blobKey, inlineBlob, updatedAt)
    ;(previous ? update : insert).run(asRow(image))
    // The replaced version's inline blob goes in the same transaction: no second commit.
    if (previous) deleteInline.run(previous.blob_key)
    return previous ? { image, replaced: fromRow(previous) } : { image }
  })
  const deleteRow = db.transaction((id: string) => {
    const previous = select.get(id)
    if (previous) {
      remove.run(id)
      deleteInline.run(previous.blob_key)
    }
    return previous
  })

  // Group commit: writes that arrive together share one transaction, so one sync to disk.
  // Each runs in its own savepoint (a nested transaction), so one refused write (a taken
  // id, say) does not undo the others; every write is acknowledged only after the commit.
  type Pending = {
    version: ImageVersion
    mode: 'create' | 'update'
    inlineBlob: Uint8Array | undefined
    resolve: (r: CommitResult) => void
    reject: (e: unknown) => void
  }
  type CommitResult = { image: StoredImage; replaced?: StoredImage }
  const queue: Pending[] = []
  const runBatch = db.transaction((batch: Pending[]) =>
    batch.map((item) => {
      try {
        return { ok: commit(item.version, item.mode, item.inlineBlob) as CommitResult }
      } catch (error) {
        return { error }
      }
    }),
  )
  function flush(): void {
    const batch = queue.splice(0)
    let results: ({ ok: CommitResult } | { error: unknown })[]
    try {
      results = runBatch.immediate(batch)
    } catch (cause) {
      const error = cause instanceof PixstoreError ? cause : new PixstoreError('STORAGE_FAILED', 'The metadata database failed to commit', { cause })
      for (const item of batch) item.reject(error)
      return
    }
    results.forEach((result, i) => ('ok' in result ? batch[i]!.resolve(result.ok) : batch[i]!.reject(result.error)))
  }

  const guard = <T>(what: string, action: () => T): T => {
    try {
      return action()
    } catch (cause) {
      if (cause instanceof PixstoreError) throw cause
      throw new PixstoreError('STORAGE_FAILED', `The metadata database failed to ${what}`, { cause })
    }
  }

  const rows = createRowCache(db)
  const getSync = (id: string) =>
    guard('read', () =>
      rows.row(id, () => {
        const row = select.get(id)
        return row && fromRow(row)
      }),
    )

  const getManySync = (ids: readonly string[]) => guard('read', () => inIdOrder(ids, selectMany.all(JSON.stringify(ids))))

  const keyIdsInUse = db.prepare<[], string>('SELECT DISTINCT key_id FROM pixstore_images ORDER BY key_id').pluck()
  const retire = db.prepare('INSERT OR IGNORE INTO pixstore_retired_keys (id, retired_at) VALUES (?, ?)')
  const retired = db.prepare<[], string>('SELECT id FROM pixstore_retired_keys ORDER BY id').pluck()
  const beat = db.prepare(
    'INSERT INTO pixstore_instances (id, info, seen_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET info = excluded.info, seen_at = excluded.seen_at',
  )
  const forget = db.prepare('DELETE FROM pixstore_instances WHERE id = ?')
  const seen = db.prepare<[number], { info: string; seen_at: number }>('SELECT info, seen_at FROM pixstore_instances WHERE seen_at > ?')
  const retireAll = db.transaction((ids: readonly string[]) => {
    const now = Date.now()
    for (const id of ids) retire.run(id, now)
  })

  return {
    getSync,
    getManySync,
    getMany: async (ids) => getManySync(ids),
    keyIdsInUseSync: () => guard('read', () => keyIdsInUse.all()),
    keyIdsInUse: async () => guard('read', () => keyIdsInUse.all()),
    retireKeys: async (ids) => guard('retire keys', () => retireAll.immediate(ids)),
    retiredKeyIds: async () => guard('read', () => retired.all()),
    beat: async (instance) => guard('record an instance', () => void beat.run(instance.id, JSON.stringify(instance), Date.now())),
    forgetInstance: async (id) => guard('forget an instance', () => void forget.run(id)),
    liveInstances: async (withinMs) =>
      guard('read', () => seen.all(Date.now() - withinMs).map((row) => ({ ...(JSON.parse(row.info) as InstanceInfo), seenAt: row.seen_at }))),
    get: async (id) => getSync(id),
    commit: (version, mode, inlineBlob) =>
      new Promise((resolve, reject) => {
        if (inlineBlob && inlineBlob.byteLength > inlineMaxBytes) {
          return reject(new PixstoreError('INTERNAL', `An inline blob of ${inlineBlob.byteLength} bytes is over ${inlineMaxBytes}`))
        }
        queue.push({ version, mode, inlineBlob, resolve, reject })
        if (queue.length === 1) setImmediate(flush)
      }),
    setVariants: async (id, blobKey, variants, placeholder) =>
      guard('set variants', () => updateVariants.run(variantsColumn({ blobKey, variants, placeholder }), id, blobKey).changes === 1),
    delete: async (id) =>
      guard('delete', () => {
        const row = deleteRow.immediate(id)
        return row && fromRow(row)
      }),
    list: async (after, limit) =>
      guard('list', () => (after === undefined ? listFirst.all(limit) : listAfter.all(after, limit)).map(fromRow)),
    replaceKey: async (id, blobKey, from: WrappedKey, to: WrappedKey) =>
      guard('rewrap', () =>
        rekey.run({ id, blobKey, fromKeyId: from.keyId, fromWrappedKey: from.wrappedKey, toKeyId: to.keyId, toWrappedKey: to.wrappedKey })
          .changes === 1,
      ),
    // Always there, even when no new blob goes inline (inlineMaxBytes 0): the file may hold
    // blobs committed under an earlier setting.
    inlineBlobs: {
      maxBytes: inlineMaxBytes,
      read: async (key) => guard('read', () => selectInline.get(key)),
      getWithBlob: async (id) =>
        guard('read', () =>
          rows.withBlob(id, () => {
            const row = selectWithInline.get(id)
            return row && { image: fromRow(row), blob: row.inline_data ?? undefined }
          }),
        ),
      delete: async (key) => guard('delete', () => deleteInline.run(key).changes === 1),
      async *list() {
        yield* guard('list', () => listInline.all().map((row) => ({ key: row.key, size: row.size, modifiedAt: row.created_at })))
      },
    },
    close: async () => {
      if (db.open) db.close()
    },
  }
}
