import { PixstoreError } from '../shared/errors.js'
import { reporting, setErrorHandlingMode } from '../shared/error-handling.js'
import { ownProperties } from '../shared/options.js'
import { PayloadState, decodePayload } from '../shared/wire.js'
import type { ImageRecord } from '../types/index.js'
import { createMemoryCache, type CacheStats, type ImageCache } from './cache/image-cache.js'
import { openIndexedDbCache } from './cache/indexeddb-cache.js'
import { resolveFrontendConfig, type PixstoreFrontendConfig, type ResolvedFrontendConfig } from './config.js'
import { decryptToBlob, type DecryptionMeta } from './decrypt.js'
import { createDefaultFetcher, type ImageFetcher } from './fetcher.js'
import { parseRecord } from './record.js'

// Module state is created on first use, never at import, so importing this module in
// Node or during server-side rendering touches no browser global.
let config: ResolvedFrontendConfig | undefined
let fetcher: ImageFetcher | undefined
let cache: Promise<ImageCache> | undefined

// One network load per id and token, shared by every caller waiting for it; aborted when
// the last caller with a signal gives up while no caller without one waits.
interface PendingLoad {
  promise: Promise<Blob>
  controller: AbortController
  waiters: number
  /** The cache write this load started, if any. */
  write?: Promise<unknown>
}
const inFlight = new Map<string, PendingLoad>()

/** Per-call options of `getImage`. */
export interface GetImageOptions {
  /** Aborts this call with `ABORTED`; the shared request is aborted once every caller waiting on it has aborted. */
  signal?: AbortSignal
  /**
   * Called once when the image route refuses the record's proof (`INVALID_PROOF` or
   * `MISSING_PROOF`), typically to fetch a fresh record from the app's API; the load is then
   * retried with what it returns. Overrides the `refresh` given to `initPixstoreFrontend`.
   */
  refresh?: RefreshRecord
}

/** Gives a fresh record for a stale one: usually a call to the app's own API. */
export type RefreshRecord = (stale: ImageRecord) => Promise<ImageRecord>

const currentConfig = () => (config ??= resolveFrontendConfig())

/**
 * Configures the frontend. Optional when the image route is on the page's own origin
 * under `/pixstore-image`; otherwise call it once before the first `getImage`.
 * `customFetcher` replaces the default HTTP fetch, for an app's own image route.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming a bad option.
 * @example
 * ```ts
 * initPixstoreFrontend({ defaultEndpointConnectHost: 'https://api.example.com' })
 * ```
 */
export function initPixstoreFrontend(options?: PixstoreFrontendConfig, customFetcher?: ImageFetcher): void {
  if (customFetcher !== undefined && typeof customFetcher !== 'function') {
    throw new PixstoreError('INVALID_CONFIG', 'initPixstoreFrontend: the custom fetcher must be a function')
  }
  const resolved = resolveFrontendConfig(options)
  // The mode is process-wide, shared with the backend in the same realm: set it only when asked.
  if (ownProperties(options)?.errorHandlingMode !== undefined) setErrorHandlingMode(resolved.errorHandlingMode)
  config = resolved
  fetcher = customFetcher
  cache = undefined
  inFlight.clear()
}

let warnedNoIndexedDb = false

function openCache(): Promise<ImageCache> {
  const { indexedDbName, frontendImageCacheLimit, frontendImageCacheMaxBytes } = currentConfig()
  const limits = { maxEntries: frontendImageCacheLimit, maxBytes: frontendImageCacheMaxBytes }
  cache ??= openIndexedDbCache(indexedDbName, limits).catch((error: unknown) => {
    if (!warnedNoIndexedDb) {
      warnedNoIndexedDb = true
      const reason = error instanceof Error ? error.message : String(error)
      console.warn(`[pixstore] IndexedDB is unavailable (${reason}); images are cached in memory for this page only`)
    }
    return createMemoryCache(limits)
  })
  return cache
}

// A failed cache operation must never cost the caller its image. A database that broke
// (closed by another tab's upgrade, say) is opened afresh on the next call, or replaced by
// the in-memory cache if it cannot be.
async function safely<T>(operation: (store: ImageCache) => Promise<T>): Promise<T | undefined> {
  const opened = openCache()
  try {
    return await operation(await opened)
  } catch {
    if (cache === opened) cache = undefined
    return undefined
  }
}

// Cache writes still under way. The load that started one stays shared until it ends (so
// a second caller does not fetch again), and the cache's own queries wait for them.
const writes = new Set<Promise<unknown>>()
function track(write: Promise<unknown>): Promise<unknown> {
  writes.add(write)
  void write.finally(() => writes.delete(write))
  return write
}

/** Resolves once every cache write and background cache task so far has finished. */
async function settled(): Promise<void> {
  while (writes.size > 0) await Promise.all(writes)
  await safely((store) => store.idle())
}

async function fetchAndDecrypt(record: ImageRecord, meta: DecryptionMeta, context: unknown, pending: PendingLoad): Promise<Blob> {
  const signal = pending.controller.signal
  const fetch = (fetcher ??= createDefaultFetcher(currentConfig))
  // A custom fetcher may ignore the signal: the load still ends on abort and on the timeout.
  const bytes = await untilAborted(fetch(record, context, signal), signal)
  signal.throwIfAborted()
  const payload = decodePayload(bytes)
  switch (payload.state) {
    case PayloadState.Success:
    case PayloadState.Updated: {
      const fresh = payload.state === PayloadState.Updated
      // Tokens only grow: an older version than the record names is a rollback (a stale
      // replica, a restored copy, a replayed answer), never an update.
      if (fresh && payload.token < record.token) {
        throw new PixstoreError(
          'STALE_PAYLOAD',
          `The server answered image "${record.id}" with version ${payload.token}, older than the record's ${record.token}`,
        )
      }
      const token = fresh ? payload.token : record.token
      const blob = await decryptToBlob(payload.ciphertext, fresh ? payload : meta)
      // The caller has its image now; the cache write goes on behind it.
      pending.write = track(safely((store) => store.put(record.id, { token, ciphertext: payload.ciphertext })))
      return blob
    }
    case PayloadState.NotFound:
      await safely((store) => store.delete(record.id))
      throw new PixstoreError('NOT_FOUND', `Image "${record.id}" does not exist`)
    case PayloadState.MissingID:
      throw new PixstoreError('MISSING_ID', 'The image route received no image id')
    case PayloadState.MissingProof:
      throw new PixstoreError('MISSING_PROOF', `The request for image "${record.id}" carried no proof`)
    case PayloadState.InvalidProof:
      throw new PixstoreError('INVALID_PROOF', `The proof for image "${record.id}" is invalid or expired: fetch a fresh record`)
    case PayloadState.InternalError:
      throw new PixstoreError('SERVER_ERROR', `The server failed to serve image "${record.id}"`)
  }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

async function load(record: ImageRecord, meta: DecryptionMeta, context: unknown, pending: PendingLoad): Promise<Blob> {
  const cached = await safely((store) => store.get(record.id))
  if (cached && cached.token === record.token) {
    try {
      return await decryptToBlob(cached.ciphertext, meta)
    } catch {
      // Tampered or corrupt at rest: drop it and fetch once from the server.
      await safely((store) => store.delete(record.id))
    }
  }
  return fetchAndDecrypt(record, meta, context, pending)
}

const abortedError = (id: string) => new PixstoreError('ABORTED', `Loading image "${id}" was aborted`)

function startLoad(key: string, record: ImageRecord, meta: DecryptionMeta, context: unknown): PendingLoad {
  const controller = new AbortController()
  const { fetchTimeoutMs } = currentConfig()
  const timer =
    fetchTimeoutMs > 0
      ? setTimeout(() => {
          controller.abort(new PixstoreError('FETCH_FAILED', `Fetching image "${record.id}" timed out after ${fetchTimeoutMs} ms`))
        }, fetchTimeoutMs)
      : undefined
  const forget = () => {
    if (inFlight.get(key) === pending) inFlight.delete(key)
  }
  // Once aborted, later callers start a new load instead of joining this one.
  controller.signal.addEventListener('abort', forget)
  const pending = { controller, waiters: 0 } as PendingLoad
  pending.promise = load(record, meta, context, pending).finally(() => clearTimeout(timer))
  inFlight.set(key, pending)
  // Shared until the load and the cache write it started are both done.
  void pending.promise
    .catch(() => undefined)
    .then(() => pending.write)
    .finally(forget)
  return pending
}

function waitFor(pending: PendingLoad, id: string, signal: AbortSignal | undefined): Promise<Blob> {
  pending.waiters++
  if (!signal) return pending.promise
  return new Promise<Blob>((resolve, reject) => {
    const onAbort = () => {
      if (--pending.waiters === 0) pending.controller.abort(abortedError(id))
      reject(abortedError(id))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    pending.promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/**
 * The image of `record` as a `Blob` of its MIME type. A cached version with the record's
 * token is decrypted with no network request; otherwise the payload is fetched with the
 * record's proof, decrypted in memory, and its ciphertext cached. A stale record still
 * yields the latest image. Concurrent calls for the same id and token share one request.
 *
 * `context` is passed to a custom fetcher; `options.signal` aborts the call.
 *
 * Errors (reported per `errorHandlingMode`, so `null` in the default mode):
 * `INVALID_RECORD`, `INVALID_PROOF`, `MISSING_PROOF`, `NOT_FOUND`, `FETCH_FAILED` (network
 * failure, a non-200 status, or the `fetchTimeoutMs` timeout), `ABORTED`,
 * `INVALID_PAYLOAD`, `DECRYPT_FAILED`, `SERVER_ERROR`.
 * @example
 * ```ts
 * const blob = await getImage(imageRecord)
 * if (blob) img.src = URL.createObjectURL(blob)
 * ```
 */
export function getImage(record: ImageRecord, context?: unknown, options?: GetImageOptions): Promise<Blob | null> {
  return reporting(() => loadImage(record, context, options))
}

/** `getImage` without the error reporting: resolves the Blob or throws a PixstoreError. */
export async function loadImage(record: ImageRecord, context?: unknown, given?: GetImageOptions): Promise<Blob> {
  const options = ownProperties(given)
  const once = async (candidate: ImageRecord) => {
    const { record: checked, meta } = parseRecord(candidate)
    const signal = options?.signal
    if (signal?.aborted) throw abortedError(checked.id)
    const key = `${checked.id}\n${checked.token}`
    const pending = inFlight.get(key) ?? startLoad(key, checked, meta, context)
    return waitFor(pending, checked.id, signal)
  }
  try {
    return await once(record)
  } catch (error) {
    const refresh = options?.refresh ?? currentConfig().refresh
    const refused = error instanceof PixstoreError && (error.code === 'INVALID_PROOF' || error.code === 'MISSING_PROOF')
    if (!refused || !refresh) throw error
    let fresh: ImageRecord
    try {
      fresh = await refresh(record)
    } catch (cause) {
      throw new PixstoreError('INVALID_PROOF', `The proof for image "${record.id}" was refused and refreshing the record failed`, { cause })
    }
    return once(fresh)
  }
}

/** Removes image `id` from the browser cache; resolves whether it was cached. */
export function deleteCachedImage(id: string): Promise<boolean | null> {
  return reporting(async () => {
    await settled()
    return (await openCache()).delete(id)
  })
}

/** Whether image `id` is in the browser cache (any version). */
export function cachedImageExists(id: string): Promise<boolean | null> {
  return reporting(async () => {
    await settled()
    return (await openCache()).has(id)
  })
}

/** How many images the browser cache holds and their total ciphertext bytes. */
export function getCacheStats(): Promise<CacheStats | null> {
  return reporting(async () => {
    await settled()
    return (await openCache()).stats()
  })
}

/** Empties the browser cache. */
export function clearImageCache(): Promise<void | null> {
  return reporting(async () => {
    await settled()
    return (await openCache()).clear()
  })
}
