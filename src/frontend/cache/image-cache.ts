/**
 * The keys of image `id` and of its cached variants (`id#<name>`): every character an id
 * may hold sorts after `#`, so the range holds no other image.
 */
export const keysOfImage = (id: string): [string, string] => [id, `${id}#\uffff`]

/** A cached image version: its token and its ciphertext. Never a key. */
export interface CachedImage {
  token: number
  ciphertext: Uint8Array
}

/** Summary of what the browser cache holds. */
export interface CacheStats {
  entries: number
  bytes: number
}

/** Limits every cache enforces, least recently used first. */
export interface CacheLimits {
  maxEntries: number
  maxBytes: number
}

/** The frontend's image cache: IndexedDB in browsers, memory where IndexedDB is unavailable. */
export interface ImageCache {
  /** The cached versions of several keys at once (one read), in their order, `undefined` where none; each found one is marked as just used. */
  getMany(ids: readonly string[]): Promise<(CachedImage | undefined)[]>
  /**
   * Stores a version of `id` (replacing any other). Eviction to the limits may follow
   * after the promise resolves; `idle` waits for it.
   */
  put(id: string, image: CachedImage): Promise<void>
  /** Removes `id` and its variants (keys `id#...`); resolves whether any was cached. */
  delete(id: string): Promise<boolean>
  /** Whether `id` or one of its variants is cached, without marking it used. */
  has(id: string): Promise<boolean>
  /** Entry count and total ciphertext bytes. */
  stats(): Promise<CacheStats>
  /** Removes every entry. */
  clear(): Promise<void>
  /** Resolves once pending background work (eviction, use times) is done. */
  idle(): Promise<void>
}

/**
 * A copy of `view` in an ArrayBuffer of its own. (`slice` will not do: on a Node Buffer,
 * which custom fetchers may return, it makes a view, not a copy.)
 */
export function ownCopy(view: Uint8Array): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(view.byteLength)
  copy.set(view)
  return copy
}

let lastUse = 0
/** A use time that grows strictly, so two uses in one millisecond still have an order. */
export function nextUseTime(): number {
  lastUse = Math.max(Date.now(), lastUse + 1)
  return lastUse
}

/** The in-memory cache: a Map in least-recently-used order. */
export function createMemoryCache(limits: CacheLimits): ImageCache {
  const entries = new Map<string, CachedImage>()
  let bytes = 0
  const remove = (id: string) => {
    const entry = entries.get(id)
    if (!entry) return false
    bytes -= entry.ciphertext.byteLength
    entries.delete(id)
    return true
  }
  const get = async (id: string) => {
    const entry = entries.get(id)
    if (!entry) return undefined
    entries.delete(id)
    entries.set(id, entry)
    return entry
  }
  return {
    getMany: (ids) => Promise.all(ids.map(get)),
    async put(id, image) {
      remove(id)
      if (limits.maxEntries === 0 || image.ciphertext.byteLength > limits.maxBytes) return
      entries.set(id, { token: image.token, ciphertext: ownCopy(image.ciphertext) })
      bytes += image.ciphertext.byteLength
      for (const oldest of entries.keys()) {
        if (entries.size <= limits.maxEntries && bytes <= limits.maxBytes) break
        remove(oldest)
      }
    },
    async delete(id) {
      let removed = remove(id)
      for (const key of [...entries.keys()]) if (key.startsWith(`${id}#`)) removed = remove(key) || removed
      return removed
    },
    has: async (id) => entries.has(id) || [...entries.keys()].some((key) => key.startsWith(`${id}#`)),
    stats: async () => ({ entries: entries.size, bytes }),
    async clear() {
      entries.clear()
      bytes = 0
    },
    idle: async () => undefined,
  }
}
