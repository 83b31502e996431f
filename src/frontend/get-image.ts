import { PixstoreError } from '../shared/errors.js'
import { reporting, setErrorHandlingMode } from '../shared/error-handling.js'
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
const inFlight = new Map<string, Promise<Blob>>()

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
  if (options?.errorHandlingMode !== undefined) setErrorHandlingMode(resolved.errorHandlingMode)
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

async function fetchAndDecrypt(record: ImageRecord, meta: DecryptionMeta, context: unknown): Promise<Blob> {
  const fetch = (fetcher ??= createDefaultFetcher(currentConfig))
  const payload = decodePayload(await fetch(record, context))
  switch (payload.state) {
    case PayloadState.Success:
    case PayloadState.Updated: {
      const fresh = payload.state === PayloadState.Updated
      const token = fresh ? payload.token : record.token
      const blob = await decryptToBlob(payload.ciphertext, fresh ? payload : meta)
      const store = await openCache()
      // A failed cache write (quota, a closing database) must not cost the caller its image.
      await store.put(record.id, { token, ciphertext: payload.ciphertext }).catch(() => undefined)
      return blob
    }
    case PayloadState.NotFound: {
      const store = await openCache()
      await store.delete(record.id).catch(() => undefined)
      throw new PixstoreError('NOT_FOUND', `Image "${record.id}" does not exist`)
    }
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

async function load(record: ImageRecord, meta: DecryptionMeta, context: unknown): Promise<Blob> {
  const store = await openCache()
  const cached = await store.get(record.id).catch(() => undefined)
  if (cached && cached.token === record.token) {
    try {
      return await decryptToBlob(cached.ciphertext, meta)
    } catch {
      // Tampered or corrupt at rest: drop it and fetch once from the server.
      await store.delete(record.id).catch(() => undefined)
    }
  }
  return fetchAndDecrypt(record, meta, context)
}

/**
 * The image of `record` as a `Blob` of its MIME type. A cached version with the record's
 * token is decrypted with no network request; otherwise the payload is fetched with the
 * record's proof, decrypted in memory, and its ciphertext cached. A stale record still
 * yields the latest image. Concurrent calls for the same id and token share one request.
 *
 * Errors (reported per `errorHandlingMode`, so `null` in the default mode):
 * `INVALID_RECORD`, `INVALID_PROOF`, `MISSING_PROOF`, `NOT_FOUND`, `FETCH_FAILED`,
 * `INVALID_PAYLOAD`, `DECRYPT_FAILED`, `SERVER_ERROR`.
 * @example
 * ```ts
 * const blob = await getImage(imageRecord)
 * if (blob) img.src = URL.createObjectURL(blob)
 * ```
 */
export function getImage(record: ImageRecord, context?: unknown): Promise<Blob | null> {
  return reporting(async () => {
    const { record: checked, meta } = parseRecord(record)
    const key = `${checked.id}\n${checked.token}`
    let pending = inFlight.get(key)
    if (!pending) {
      pending = load(checked, meta, context).finally(() => inFlight.delete(key))
      inFlight.set(key, pending)
    }
    return pending
  })
}

/** Removes image `id` from the browser cache; resolves whether it was cached. */
export function deleteCachedImage(id: string): Promise<boolean | null> {
  return reporting(async () => (await openCache()).delete(id))
}

/** Whether image `id` is in the browser cache (any version). */
export function cachedImageExists(id: string): Promise<boolean | null> {
  return reporting(async () => (await openCache()).has(id))
}

/** How many images the browser cache holds and their total ciphertext bytes. */
export function getCacheStats(): Promise<CacheStats | null> {
  return reporting(async () => (await openCache()).stats())
}

/** Empties the browser cache. */
export function clearImageCache(): Promise<void | null> {
  return reporting(async () => (await openCache()).clear())
}
