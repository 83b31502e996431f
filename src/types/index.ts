import type { ImageFormat } from '../shared/image-format.js'
import type { ImageVariant } from '../shared/variants.js'

export type { ImageFormat } from '../shared/image-format.js'
export type { PixstoreErrorCode } from '../shared/errors.js'
export type { ErrorHandlingMode } from '../shared/error-handling.js'
export type { Payload } from '../shared/wire.js'
export type { ImageVariant } from '../shared/variants.js'

/** Decryption metadata of one image version, each field in standard base64. */
export interface ImageMeta {
  /** The AES-256 key, 32 bytes. */
  key: string
  /** The AES-GCM IV, 12 bytes. */
  iv: string
  /** The AES-GCM authentication tag, 16 bytes. */
  tag: string
}

/**
 * What an app's API hands to its frontend for one image: plain JSON, safe to embed in
 * any response. It is valid as long as its `statelessProof` is (20 to 40 s by default);
 * a stale token still fetches the latest version.
 */
export interface ImageRecord {
  /** The image id. */
  id: string
  /** The version token; it grows with every update of the id. */
  token: number
  /** Decryption metadata of the version named by `token`. */
  meta: ImageMeta
  /** The short-lived HMAC proof that authorises fetching this image. */
  statelessProof: string
  /** The image format, when the backend knows it. */
  format?: ImageFormat
  /** The image's size in bytes (not encrypted), when known. */
  bytes?: number
  /** The image's width in pixels, when known. */
  width?: number
  /** The image's height in pixels, when known. */
  height?: number
  /**
   * Smaller copies of this version, when the backend makes them (option `variants`): the
   * frontend fetches one with the same proof and derives its key from `meta.key`.
   */
  variants?: ImageVariant[]
  /** A ThumbHash of the image (standard base64, about 30 bytes) to show while it loads, when the backend makes variants. */
  placeholder?: string
}

/**
 * The platform's `AbortSignal` (from the DOM library or Node's types), named without
 * requiring either: these types also compile where neither is loaded.
 */
export type PlatformAbortSignal = typeof globalThis extends { AbortSignal: { prototype: infer Signal } } ? Signal : never

/**
 * Fetches the binary payload of the image route for a record. Replace the default with
 * `initPixstoreFrontend(config, fetcher)` when images come through an app's own route.
 * `context` is whatever the app passed to `getImage`; `signal` aborts when every caller
 * waiting for this image has given up, or on the timeout: pass it on to `fetch`; `options`
 * names the variant wanted, if any.
 */
export type ImageFetcher = (record: ImageRecord, context?: unknown, signal?: PlatformAbortSignal, options?: FetchOptions) => Promise<Uint8Array>

/** What the frontend asks a fetcher for beyond the record. */
export interface FetchOptions {
  /**
   * The variant to fetch (`<width>.<format>`, one of the record's `variants`): send it to the
   * image route as `variant` (the default fetcher does), or to `customEndpointHelper` as
   * `{ variant }`. A fetcher that ignores it fetches the original, which works too.
   */
  variant?: string
}
