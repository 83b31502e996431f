import type { ImageFormat } from '../../shared/image-format.js'

/** What the metadata store keeps for the current version of one image. */
export interface StoredImage {
  id: string
  /** The version token, assigned by the store: greater than every token it gave this id before. */
  token: number
  /** Id of the master key that wrapped `wrappedKey`. */
  keyId: string
  /** The AES-256 data key, wrapped (encrypted) under the master key `keyId`; standard base64. */
  wrappedKey: string
  /** AES-GCM IV and tag of the image ciphertext, standard base64. */
  iv: string
  tag: string
  /** The blob store key of this version's ciphertext. */
  blobKey: string
  format: ImageFormat
  /** Size of the image itself (not encrypted), in bytes. */
  bytes: number
  width: number
  height: number
  /** When this version was committed, ms since the epoch. */
  updatedAt: number
}

/** A new version to commit: everything but what the store assigns (token and time). */
export type ImageVersion = Omit<StoredImage, 'token' | 'updatedAt'>

/** A wrapped data key and the master key it is wrapped under. */
export interface WrappedKey {
  keyId: string
  wrappedKey: string
}

/**
 * Where image metadata lives. Pixstore calls it; apps only pick one.
 *
 * Every write is atomic: a reader sees the previous row or the new one, never a mix.
 */
export interface MetadataStore {
  /** The current row of `id`, or `undefined`. */
  get(id: string): Promise<StoredImage | undefined>
  /**
   * Optional capability: the same read, synchronously. Stores that have it (the embedded
   * SQLite store) make the synchronous `getImageRecord` work.
   */
  getSync?(id: string): StoredImage | undefined
  /**
   * Commits a version and assigns its token. `mode` `create` fails with `ALREADY_EXISTS`
   * if the id has a row, `update` fails with `NOT_FOUND` if it has none.
   * Returns the committed row and the blob key it replaced, if any.
   */
  commit(version: ImageVersion, mode: 'create' | 'update'): Promise<{ image: StoredImage; replacedBlobKey?: string }>
  /** Removes the row of `id`; returns it, or `undefined` if there was none. */
  delete(id: string): Promise<StoredImage | undefined>
  /** Up to `limit` rows with ids after `after` (all when `undefined`), in id order: for paging through every image. */
  list(after: string | undefined, limit: number): Promise<StoredImage[]>
  /**
   * Replaces the wrapped key of `id` if the row still holds `from` for the same blob, and
   * returns whether it did (a row updated meanwhile has a new key already).
   */
  replaceKey(id: string, blobKey: string, from: WrappedKey, to: WrappedKey): Promise<boolean>
  /**
   * Optional capability: stores a row exactly as given (token included) unless the id
   * has one already, and keeps the store's clock ahead of its token; returns whether it
   * stored it. Used by `pixstore migrate`.
   */
  import?(image: StoredImage): Promise<boolean>
  /** Releases connections and handles. */
  close(): Promise<void>
}
