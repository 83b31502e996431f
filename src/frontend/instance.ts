import { PixstoreError } from '../shared/errors.js'
import type { ImageRecord } from '../types/index.js'
import { createCacheAccess } from './cache/cache-access.js'
import type { CacheStats } from './cache/image-cache.js'
import { resolveFrontendConfig, type PixstoreFrontendConfig, type ResolvedFrontendConfig } from './config.js'
import { createDefaultFetcher, type ImageFetcher } from './fetcher.js'
import { createLoader, type GetImageOptions } from './loader.js'
import { createObjectUrls, type ImageURL } from './object-urls.js'

/**
 * One frontend instance: its configuration, browser cache, shared loads and object URLs.
 * Its methods throw a `PixstoreError` on failure. The seed-style functions of
 * `pixstore/frontend` call a default instance (see `initPixstoreFrontend`).
 */
export interface PixstoreFrontend {
  /** The configuration in force, defaults filled in. */
  readonly config: ResolvedFrontendConfig
  /**
   * The image of `record` as a `Blob` of its MIME type: from the browser cache when it holds
   * the record's version (no request), else fetched with the record's proof, decrypted in
   * memory, and its ciphertext cached. Concurrent calls for one version share one request.
   *
   * @throws PixstoreError `INVALID_RECORD`, `INVALID_PROOF`, `MISSING_PROOF`, `NOT_FOUND`,
   * `FETCH_FAILED`, `ABORTED`, `INVALID_PAYLOAD`, `STALE_PAYLOAD`, `DECRYPT_FAILED`, `SERVER_ERROR`.
   */
  getImage(record: ImageRecord, context?: unknown, options?: GetImageOptions): Promise<Blob>
  /** An object URL of the image of `record`, held by this caller until it calls `release()`. Arguments and errors as `getImage`. */
  getImageURL(record: ImageRecord, context?: unknown, options?: GetImageOptions): Promise<ImageURL>
  /** Removes image `id` from the browser cache; whether it was cached. */
  deleteCachedImage(id: string): Promise<boolean>
  /** Whether the browser cache holds image `id` (any version). */
  cachedImageExists(id: string): Promise<boolean>
  /** How many images the browser cache holds and their ciphertext bytes. */
  getCacheStats(): Promise<CacheStats>
  /** Empties the browser cache. */
  clearImageCache(): Promise<void>
  /** How many object URLs this instance holds now (for leak checks). */
  heldImageURLCount(): number
  /** Aborts the loads under way and lets the cache's pending writes finish. */
  close(): Promise<void>
}

/**
 * Creates a frontend instance. `fetcher` replaces the default HTTP fetch of the image route,
 * for an app's own route. Touches no browser global until it is used.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming a bad option.
 * @example
 * ```ts
 * const images = createPixstoreFrontend({ defaultEndpointConnectHost: 'https://api.example.com' })
 * img.src = URL.createObjectURL(await images.getImage(player.imageRecord))
 * ```
 */
export function createPixstoreFrontend(config?: PixstoreFrontendConfig, fetcher?: ImageFetcher): PixstoreFrontend {
  return openFrontend(config, fetcher, 'createPixstoreFrontend')
}

/** {@link createPixstoreFrontend}, naming `where` in configuration errors. */
export function openFrontend(config: PixstoreFrontendConfig | undefined, fetcher: ImageFetcher | undefined, where: string): PixstoreFrontend {
  if (fetcher !== undefined && typeof fetcher !== 'function') {
    throw new PixstoreError('INVALID_CONFIG', `${where}: the custom fetcher must be a function`)
  }
  const resolved = resolveFrontendConfig(config, where)
  const cache = createCacheAccess(resolved)
  const loader = createLoader(resolved, fetcher ?? createDefaultFetcher(() => resolved), cache)
  const urls = createObjectUrls((record, context, options) => loader.load(record, context, options))
  const admin = async <T>(operation: (store: Awaited<ReturnType<typeof cache.open>>) => Promise<T>): Promise<T> => {
    await cache.settled()
    return operation(await cache.open())
  }
  return {
    config: resolved,
    getImage: async (record, context, options) => (await loader.load(record, context, options)).blob,
    getImageURL: (record, context, options) => urls.acquire(record, context, options),
    deleteCachedImage: (id) => admin((store) => store.delete(id)),
    cachedImageExists: (id) => admin((store) => store.has(id)),
    getCacheStats: () => admin((store) => store.stats()),
    clearImageCache: () => admin((store) => store.clear()),
    heldImageURLCount: () => urls.held(),
    async close() {
      loader.abortAll()
      await cache.settled()
    },
  }
}
