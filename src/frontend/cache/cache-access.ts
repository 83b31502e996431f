import type { ResolvedFrontendConfig } from '../config.js'
import { createMemoryCache, type ImageCache } from './image-cache.js'
import { openIndexedDbCache } from './indexeddb-cache.js'

// The page is told once that it caches in memory, however many instances find no IndexedDB.
let warned = false

/**
 * The browser cache of one frontend instance, opened on first use: IndexedDB, else memory
 * for the page (with one warning). A cache failure never costs a caller its image.
 */
export function createCacheAccess(config: ResolvedFrontendConfig) {
  const limits = { maxEntries: config.frontendImageCacheLimit, maxBytes: config.frontendImageCacheMaxBytes }
  let cache: Promise<ImageCache> | undefined
  // Cache writes still under way. A load that started one stays shared until it ends (so a
  // second caller does not fetch again), and the cache's own queries wait for them.
  const writes = new Set<Promise<unknown>>()

  const open = (): Promise<ImageCache> =>
    (cache ??= openIndexedDbCache(config.indexedDbName, limits).catch((error: unknown) => {
      if (!warned) {
        warned = true
        const reason = error instanceof Error ? error.message : String(error)
        console.warn(`[pixstore] IndexedDB is unavailable (${reason}); images are cached in memory for this page only`)
      }
      return createMemoryCache(limits)
    }))

  // A database that broke (closed by another tab's upgrade, say) is opened afresh on the
  // next call, or replaced by the in-memory cache if it cannot be.
  async function safely<T>(operation: (store: ImageCache) => Promise<T>): Promise<T | undefined> {
    const opened = open()
    try {
      return await operation(await opened)
    } catch {
      if (cache === opened) cache = undefined
      return undefined
    }
  }

  return {
    open,
    safely,
    /** Keeps `write` among the writes under way until it ends. */
    track(write: Promise<unknown>): Promise<unknown> {
      writes.add(write)
      void write.finally(() => writes.delete(write))
      return write
    },
    /** Resolves once every cache write and background cache task so far has finished. */
    async settled(): Promise<void> {
      while (writes.size > 0) await Promise.all(writes)
      await safely((store) => store.idle())
    },
  }
}

export type CacheAccess = ReturnType<typeof createCacheAccess>
