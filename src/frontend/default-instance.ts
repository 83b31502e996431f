import { createErrorReporter, splitReporting, type ErrorReporter } from '../shared/error-handling.js'
import type { ImageRecord } from '../types/index.js'
import type { CacheStats } from './cache/image-cache.js'
import type { PixstoreFrontendConfig, PixstoreFrontendInitConfig } from './config.js'
import type { ImageFetcher } from './fetcher.js'
import { openFrontend, type PixstoreFrontend } from './instance.js'
import type { GetImageOptions } from './loader.js'
import { aliveObjectURLCount, type ImageURL } from './object-urls.js'

// The default instance is made on first use, never at import, so importing this module in
// Node or during server-side rendering touches no browser global.
// An instance replaced by initPixstoreFrontend is let go, not closed: its loads finish and
// its object URLs stay valid until their holders release them.
let current: { frontend: PixstoreFrontend; reporter: ErrorReporter } | undefined

function active() {
  return (current ??= { frontend: openFrontend(undefined, undefined, 'initPixstoreFrontend'), reporter: createErrorReporter() })
}

/** The default instance, which the module functions, `<pixstore-image>` and `usePixstoreImage` use. */
export function defaultFrontend(): PixstoreFrontend {
  return active().frontend
}

/**
 * Configures the default frontend instance. Optional when the image route is on the page's
 * own origin under `/pixstore-image`; otherwise call it once before the first `getImage`.
 * `customFetcher` replaces the default HTTP fetch, for an app's own image route.
 * `errorHandlingMode` and `onError` say how the module functions report errors.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming a bad option.
 * @example
 * ```ts
 * initPixstoreFrontend({ defaultEndpointConnectHost: 'https://api.example.com' })
 * ```
 */
export function initPixstoreFrontend(config?: PixstoreFrontendInitConfig, customFetcher?: ImageFetcher): void {
  const { reporting, rest } = splitReporting<PixstoreFrontendConfig>(config, 'initPixstoreFrontend')
  const frontend = openFrontend(rest, customFetcher, 'initPixstoreFrontend')
  current = { frontend, reporter: createErrorReporter(reporting) }
}

const run = <T>(action: (frontend: PixstoreFrontend) => Promise<T>) => {
  const { frontend, reporter } = active()
  return reporter.run(() => action(frontend))
}

/**
 * The image of `record` as a `Blob` of its MIME type. A cached version with the record's
 * token is decrypted with no network request; otherwise the payload is fetched with the
 * record's proof, decrypted in memory, and its ciphertext cached. A stale record still
 * yields the latest image. Concurrent calls for the same id and token share one request.
 * `context` is passed to a custom fetcher; `options.signal` aborts the call.
 *
 * Errors are reported per `errorHandlingMode` (so `null` in the default mode): see
 * `PixstoreFrontend.getImage` for the codes.
 * @example
 * ```ts
 * const blob = await getImage(imageRecord)
 * if (blob) img.src = URL.createObjectURL(blob)
 * ```
 */
export function getImage(record: ImageRecord, context?: unknown, options?: GetImageOptions): Promise<Blob | null> {
  return run((frontend) => frontend.getImage(record, context, options))
}

/**
 * An object URL of the image of `record`, for an `<img src>`, held by this caller: call
 * `release()` on it when the image is no longer shown (replaced or unmounted); the URL is
 * revoked once every holder has released it. `context` and `options` as {@link getImage}, and errors too.
 *
 * @example
 * ```ts
 * const image = await getImageURL(imageRecord, undefined, { refresh: () => api.playerImage(42) })
 * if (image) img.src = image.url
 * // later, when img shows something else or goes away:
 * image?.release()
 * ```
 */
export function getImageURL(record: ImageRecord, context?: unknown, options?: GetImageOptions): Promise<ImageURL | null> {
  return run((frontend) => frontend.getImageURL(record, context, options))
}

/** How many object URLs are held in this page now, by any frontend instance (for tests and leak checks). */
export function heldImageURLCount(): number {
  return aliveObjectURLCount()
}

/** Removes image `id` from the browser cache; resolves whether it was cached. */
export function deleteCachedImage(id: string): Promise<boolean | null> {
  return run((frontend) => frontend.deleteCachedImage(id))
}

/** Whether image `id` is in the browser cache (any version). */
export function cachedImageExists(id: string): Promise<boolean | null> {
  return run((frontend) => frontend.cachedImageExists(id))
}

/** How many images the browser cache holds and their total ciphertext bytes. */
export function getCacheStats(): Promise<CacheStats | null> {
  return run((frontend) => frontend.getCacheStats())
}

/** Empties the browser cache. */
export function clearImageCache(): Promise<void | null> {
  return run((frontend) => frontend.clearImageCache())
}
