// The schema of the browser cache's database, and opening it: at this version, within a
// bounded time, and taking over a database of another schema under the same name.

export const VERSION = 2
export const BLOBS = 'blobs'
export const ENTRIES = 'entries'
export const TOTALS = 'totals'
export const ALL = [BLOBS, ENTRIES, TOTALS]
export const TOTALS_KEY = 'all'

export interface BlobRow {
  token: number
  data: ArrayBuffer
}

export interface EntryRow {
  id: string
  token: number
  size: number
  lastUsed: number
}

export interface Totals {
  entries: number
  bytes: number
}

// An open that another tab blocks (it holds an older version open and ignores the version
// change) or that the browser is slow to answer gives up after this long, and the page
// uses the in-memory cache instead.
export const OPEN_TIMEOUT_MS = 1500

/** Whether `db` has this cache's stores and index; a database left by pixstore 3.x or anything else has not. */
function isOwnSchema(db: IDBDatabase): boolean {
  const names = db.objectStoreNames
  if (!ALL.every((name) => names.contains(name)) || names.length !== ALL.length) return false
  return db.transaction(ENTRIES, 'readonly').objectStore(ENTRIES).indexNames.contains('lastUsed')
}

function upgrade(db: IDBDatabase, tx: IDBTransaction, oldVersion: number): void {
  // An older or foreign schema under this name (pixstore 3.x kept one `images` store at
  // version 1) is not upgraded in place: it is cleared and made anew. Only ciphertext is
  // lost, and it is fetched again.
  const known = oldVersion === 0 || (oldVersion === 1 && db.objectStoreNames.length === 2 && [BLOBS, ENTRIES].every((n) => db.objectStoreNames.contains(n)))
  if (!known) {
    for (const name of Array.from(db.objectStoreNames)) db.deleteObjectStore(name)
    oldVersion = 0
  }
  if (oldVersion < 1) {
    db.createObjectStore(BLOBS)
    db.createObjectStore(ENTRIES, { keyPath: 'id' }).createIndex('lastUsed', 'lastUsed')
  }
  if (oldVersion < 2) {
    const totals = db.createObjectStore(TOTALS)
    const sum: Totals = { entries: 0, bytes: 0 }
    const cursor = tx.objectStore(ENTRIES).openCursor()
    cursor.onsuccess = () => {
      const c = cursor.result
      if (!c) return void totals.put(sum, TOTALS_KEY)
      sum.entries++
      sum.bytes += (c.value as EntryRow).size
      c.continue()
    }
  }
}

/** Opens one request, settling within {@link OPEN_TIMEOUT_MS}; a late success is closed at once. */
function openOnce(name: string, version?: number): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    let settled = false
    const req = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version)
    const timer = setTimeout(() => {
      settled = true
      reject(new Error(`opening IndexedDB "${name}" took over ${OPEN_TIMEOUT_MS} ms (another tab may hold an older version open)`))
    }, OPEN_TIMEOUT_MS)
    req.onupgradeneeded = (event) => upgrade(req.result, req.transaction!, event.oldVersion)
    req.onsuccess = () => {
      clearTimeout(timer)
      if (settled) req.result.close()
      else resolve(req.result)
      settled = true
    }
    req.onerror = () => {
      clearTimeout(timer)
      if (!settled) reject(req.error ?? new Error(`opening IndexedDB "${name}" failed`))
      settled = true
    }
  })
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name)
    const timer = setTimeout(() => reject(new Error(`deleting IndexedDB "${name}" was blocked`)), OPEN_TIMEOUT_MS)
    req.onsuccess = () => (clearTimeout(timer), resolve())
    req.onerror = () => (clearTimeout(timer), reject(req.error ?? new Error(`deleting IndexedDB "${name}" failed`)))
  })
}

/**
 * Opens the cache's database at this version. A database under the same name at a newer
 * version, or at this version with other stores (not written by this cache), is deleted
 * and made anew: the name is the cache's, and what it held was ciphertext.
 */
export async function openDatabase(name: string): Promise<IDBDatabase> {
  let db: IDBDatabase
  try {
    db = await openOnce(name, VERSION)
  } catch (error) {
    if ((error as DOMException | undefined)?.name !== 'VersionError') throw error
    await deleteDatabase(name)
    return openOnce(name, VERSION)
  }
  if (isOwnSchema(db)) return db
  db.close()
  await deleteDatabase(name)
  return openOnce(name, VERSION)
}

