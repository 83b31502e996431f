import { PixstoreError } from '../shared/errors.js'
import { ownProperties } from '../shared/options.js'
import type { ImageRecord } from '../types/index.js'
import type { ImageVariant } from '../shared/variants.js'
import type { GetImageOptions, LoadedImage } from './loader.js'
import { parseRecord } from './record.js'

/**
 * An object URL of an image, held by one caller: show `url`, and call `release()` when the
 * image is no longer shown. Releasing twice does nothing; the URL is revoked once every
 * holder of it has released it.
 */
export interface ImageURL {
  readonly url: string
  /** The variant the URL shows (see the record's `variants`), `null` for the original. */
  readonly variant: ImageVariant | null
  release(): void
}

interface Held {
  url: string
  variant: ImageVariant | null
  users: number
}

// Object URLs alive in this page, whichever instance made them: for leak checks.
let alive = 0

/** How many object URLs every frontend instance of this page holds now. */
export function aliveObjectURLCount(): number {
  return alive
}

/** The object URLs of one frontend instance: one per id and token, shared by every holder. */
export function createObjectUrls(load: (record: ImageRecord, context: unknown, options: GetImageOptions | undefined) => Promise<LoadedImage>) {
  const byVersion = new Map<string, Held>()

  const handle = (version: string, held: Held): ImageURL => {
    held.users++
    let released = false
    return {
      url: held.url,
      variant: held.variant,
      release() {
        if (released) return
        released = true
        if (--held.users > 0) return
        byVersion.delete(version)
        alive--
        URL.revokeObjectURL(held.url)
      },
    }
  }

  return {
    async acquire(candidate: ImageRecord, context: unknown, options: GetImageOptions | undefined): Promise<ImageURL> {
      const { record } = parseRecord(candidate)
      if (ownProperties(options)?.signal?.aborted) throw new PixstoreError('ABORTED', `Loading image "${record.id}" was aborted`)
      // One URL per version and width asked for (each width may load another variant).
      const version = `${record.id}\n${record.token}\n${ownProperties(options)?.width ?? ''}`
      const held = byVersion.get(version)
      if (held) return handle(version, held)
      const { blob, variant } = await load(record, context, options)
      // Another caller may have made the URL while this one waited.
      const made = byVersion.get(version)
      if (made) return handle(version, made)
      const created = { url: URL.createObjectURL(blob), variant: variant ?? null, users: 0 }
      alive++
      byVersion.set(version, created)
      return handle(version, created)
    },
    /** How many object URLs are held now. */
    held: () => byVersion.size,
  }
}
