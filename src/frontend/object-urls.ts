import { reporting } from '../shared/error-handling.js'
import { ownProperties } from '../shared/options.js'
import type { ImageRecord } from '../types/index.js'
import { loadImage, type GetImageOptions } from './get-image.js'

/** Options of `getImageURL`: those of `getImage`, and the context for a custom fetcher. */
export interface GetImageURLOptions extends GetImageOptions {
  context?: unknown
}

interface Held {
  url: string
  users: number
}

// One object URL per id and token, shared by everyone showing that version and revoked
// when the last of them lets go.
const byVersion = new Map<string, Held>()
const versionOf = new Map<string, string>()

/**
 * An object URL of the image of `record`, for an `<img src>`. Every caller of the same id
 * and token shares one URL; give it back with {@link releaseImageURL} when the image is
 * no longer shown (replaced or unmounted), and the URL is revoked once nobody holds it.
 * Errors as `getImage` (so `null` in the default error mode).
 *
 * @example
 * ```ts
 * const url = await getImageURL(imageRecord, { refresh: () => api.playerImage(42) })
 * if (url) img.src = url
 * // later, when img shows something else or goes away:
 * releaseImageURL(url)
 * ```
 */
export function getImageURL(record: ImageRecord, options?: GetImageURLOptions): Promise<string | null> {
  return reporting(() => acquireImageURL(record, options))
}

/** `getImageURL` without the error reporting: resolves the URL or throws a PixstoreError. */
export async function acquireImageURL(record: ImageRecord, given?: GetImageURLOptions): Promise<string> {
  const options = ownProperties(given)
  const version = `${record.id}\n${record.token}`
  const held = byVersion.get(version)
  if (held) {
    held.users++
    return held.url
  }
  const blob = await loadImage(record, options?.context, options)
  // Another caller may have made the URL while this one waited.
  const made = byVersion.get(version)
  if (made) {
    made.users++
    return made.url
  }
  const url = URL.createObjectURL(blob)
  byVersion.set(version, { url, users: 1 })
  versionOf.set(url, version)
  return url
}

/** Gives back a URL from {@link getImageURL}; the last release revokes it. Unknown URLs are ignored. */
export function releaseImageURL(url: string | null | undefined): void {
  const version = url ? versionOf.get(url) : undefined
  if (!url || !version) return
  const held = byVersion.get(version)!
  if (--held.users > 0) return
  byVersion.delete(version)
  versionOf.delete(url)
  URL.revokeObjectURL(url)
}

/** How many object URLs Pixstore holds right now (for tests and leak checks). */
export function heldImageURLCount(): number {
  return byVersion.size
}
