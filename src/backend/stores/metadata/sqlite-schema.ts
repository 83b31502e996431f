import Database from 'better-sqlite3'
import { PixstoreError } from '../../../shared/errors.js'

const SCHEMA_VERSION = 3

const schema = `
CREATE TABLE IF NOT EXISTS pixstore_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pixstore_clock (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last_token INTEGER NOT NULL
);
INSERT OR IGNORE INTO pixstore_clock (id, last_token) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS pixstore_images (
  id TEXT PRIMARY KEY,
  token INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  wrapped_key TEXT NOT NULL,
  iv TEXT NOT NULL,
  tag TEXT NOT NULL,
  blob_key TEXT NOT NULL UNIQUE,
  format TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  variants TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pixstore_retired_keys (
  id TEXT PRIMARY KEY,
  retired_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pixstore_instances (
  id TEXT PRIMARY KEY,
  info TEXT NOT NULL,
  seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pixstore_inline_blobs (
  key TEXT PRIMARY KEY,
  data BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
`

// What better-sqlite3 (through `bindings`, or Node itself) says when its compiled addon is
// absent or was built for another Node.js.
const isMissingBinding = (error: unknown) =>
  error instanceof Error && /bindings file|better_sqlite3\.node|NODE_MODULE_VERSION|compiled against a different Node/i.test(error.message)

const BUSY_TIMEOUT_MS = 10_000

/**
 * Switches the database to WAL mode. SQLite answers that switch with SQLITE_BUSY at once,
 * without waiting, while another process opens the same file (two app processes starting
 * on a new data directory), so the switch is retried here, up to the busy timeout.
 */
function enterWalMode(db: Database.Database): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (;;) {
    try {
      db.pragma('journal_mode = WAL')
      return
    } catch (error) {
      if (!String((error as { code?: unknown }).code).startsWith('SQLITE_BUSY') || Date.now() > deadline) throw error
      Atomics.wait(pause, 0, 0, 5 + Math.random() * 20)
    }
  }
}

/**
 * Opens (creating it if missing) the embedded store's database file in WAL mode with
 * durable commits, and creates or upgrades its schema.
 *
 * @throws PixstoreError `MISSING_DEPENDENCY` without better-sqlite3's native addon,
 * `INVALID_CONFIG` for a file a newer Pixstore wrote, `STORAGE_FAILED` otherwise.
 */
export function openSqliteDatabase(file: string): Database.Database {
  let opened: Database.Database | undefined
  try {
    const db = (opened = new Database(file, { timeout: BUSY_TIMEOUT_MS }))
    enterWalMode(db)
    // Every commit reaches the disk before the write is acknowledged.
    db.pragma('synchronous = FULL')
    // One transaction, so that processes opening a new file at once create one schema row.
    db.transaction(() => {
      db.exec(schema)
      const version = db.prepare('SELECT version FROM pixstore_schema').pluck().get() as number | undefined
      if (version === undefined) db.prepare('INSERT INTO pixstore_schema (version) VALUES (?)').run(SCHEMA_VERSION)
      else if (version > SCHEMA_VERSION) {
        throw new PixstoreError('INVALID_CONFIG', `${file} was written by a newer Pixstore (schema ${version})`)
      } else if (version < SCHEMA_VERSION) {
        // Version 2 adds the retired keys and the instances (created above): an older
        // Pixstore would ignore a retirement. Version 3 adds the variants of each version: an
        // older Pixstore would keep a row's variants through an update that replaced its
        // image. So an older Pixstore must not open this file any more.
        const columns = db.prepare<[], { name: string }>('PRAGMA table_info(pixstore_images)').all()
        if (!columns.some((column) => column.name === 'variants')) db.exec('ALTER TABLE pixstore_images ADD COLUMN variants TEXT')
        db.prepare('UPDATE pixstore_schema SET version = ?').run(SCHEMA_VERSION)
      }
    }).immediate()
  } catch (cause) {
    opened?.close()
    if (cause instanceof PixstoreError) throw cause
    if (isMissingBinding(cause)) {
      throw new PixstoreError(
        'MISSING_DEPENDENCY',
        "better-sqlite3's native binding could not be loaded: it is built when the package is installed, which installs " +
          'with --ignore-scripts (or pnpm without allowed builds) skip, and it must match this Node.js. Run: npm rebuild better-sqlite3',
        { cause },
      )
    }
    throw new PixstoreError('STORAGE_FAILED', `Could not open the metadata database ${file}`, { cause })
  }

  return opened
}
