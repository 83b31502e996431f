import { PixstoreError } from '../../shared/errors.js'
import type { ImageFormat } from '../../shared/image-format.js'
import type { ImageVariant } from '../../shared/variants.js'
import type { BlobInfo } from './blob-store.js'

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
  /** Smaller copies of this version, each in its own blob (see `variantBlobKey`); none when absent. */
  variants?: readonly ImageVariant[]
  /** The version's ThumbHash placeholder, sealed under a key derived from its data key; standard base64. */
  placeholder?: string
}

/** A new version to commit: everything but what the store assigns (token and time). */
export type ImageVersion = Omit<StoredImage, 'token' | 'updatedAt'>

/**
 * Blobs a metadata store keeps itself (see `MetadataStore.inlineBlobs`). `commit` takes one
 * as its `inlineBlob`, up to `maxBytes`; it is removed with the row, or when a newer version
 * of the row commits, in the same transaction.
 */
export interface InlineBlobs {
  /** Largest blob kept inline, in bytes. */
  readonly maxBytes: number
  read(key: string): Promise<Uint8Array | undefined>
  /**
   * Optional capability: the row of `id` and, when its blob is inline, that blob, in one
   * read (`undefined` without a row). The image route then answers a small image with one
   * query instead of two. The blob may be shared with other callers (the SQLite store keeps
   * those of recent reads): a caller never changes it.
   */
  getWithBlob?(id: string): Promise<{ image: StoredImage; blob: Uint8Array | undefined } | undefined>
  /** Removes an inline blob no row names (an orphan `gc` found); `true` if there was one. */
  delete(key: string): Promise<boolean>
  list(): AsyncIterable<BlobInfo>
}

/** A wrapped data key and the master key it is wrapped under. */
export interface WrappedKey {
  keyId: string
  wrappedKey: string
}

/**
 * A running backend instance, as it records itself in the metadata store so that key
 * rotation knows which keys every live process holds.
 */
export interface InstanceInfo {
  /** Random id of the instance, new at every start. */
  id: string
  host: string
  pid: number
  /** Ids of the master keys it holds, the one it wraps new data keys under first. */
  masterKeyIds: string[]
  /** Whether it re-reads its keys from the data directory (so it picks up a rotation by itself). */
  reloadsKeys: boolean
  /** Its proof window in ms (-1: proofs never expire). */
  proofWindowMs: number
}

/** An instance and when the store last heard from it, ms since the epoch by the store's clock. */
export type SeenInstance = InstanceInfo & { seenAt: number }

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
   * Optional capability: the rows of several ids in one round trip, in the order of `ids`
   * (a repeated id gets its row each time; `undefined` where there is none). Without it,
   * Pixstore reads them one id at a time.
   */
  getMany?(ids: readonly string[]): Promise<(StoredImage | undefined)[]>
  /** Optional capability: `getMany`, synchronously (the embedded SQLite store). */
  getManySync?(ids: readonly string[]): (StoredImage | undefined)[]
  /**
   * Optional capability: small blobs kept in the metadata store itself, each written by the
   * `commit` of the version that names it, in the same transaction (the embedded SQLite
   * store: a small image then costs one durable write, not a file, its folder and a commit).
   */
  readonly inlineBlobs?: InlineBlobs
  /**
   * Commits a version and assigns its token. `mode` `create` fails with `ALREADY_EXISTS`
   * if the id has a row, `update` fails with `NOT_FOUND` if it has none. A version wrapped
   * under a retired master key fails with `KEY_RETIRED`, checked in the same transaction
   * that writes the row, so that no row under a retired key can appear once `retireKeys`
   * has returned.
   * Returns the committed row and the row it replaced, if any (whose blobs the caller removes).
   */
  commit(version: ImageVersion, mode: 'create' | 'update', inlineBlob?: Uint8Array): Promise<{ image: StoredImage; replaced?: StoredImage }>
  /**
   * Optional capability: sets the variants and placeholder of `id` if its row still names
   * `blobKey` (the version they were made from), and returns whether it did. The token stays:
   * the image is the same version. Used by `pixstore variants`.
   */
  setVariants?(id: string, blobKey: string, variants: readonly ImageVariant[], placeholder: string | undefined): Promise<boolean>
  /** Removes the row of `id`; returns it, or `undefined` if there was none. */
  delete(id: string): Promise<StoredImage | undefined>
  /** Up to `limit` rows with ids after `after` (all when `undefined`), in id order: for paging through every image. */
  list(after: string | undefined, limit: number): Promise<StoredImage[]>
  /**
   * Replaces the wrapped key of `id` if the row still holds `from` for the same blob, and
   * returns whether it did (a row updated meanwhile has a new key already). Never rewraps
   * under a retired key.
   */
  replaceKey(id: string, blobKey: string, from: WrappedKey, to: WrappedKey): Promise<boolean>
  /**
   * Optional capability: stores a row exactly as given (token included) unless the id
   * has one already, and keeps the store's clock ahead of its token; returns whether it
   * stored it. Used by `pixstore migrate`. Fails with `KEY_RETIRED` like `commit`.
   */
  import?(image: StoredImage): Promise<boolean>
  /** Ids of every master key some row's data key is wrapped under. */
  keyIdsInUse(): Promise<string[]>
  /**
   * Retires master keys: from the moment this returns, `commit`, `import` and `replaceKey`
   * refuse data keys wrapped under them, in every process sharing the store.
   */
  retireKeys(ids: readonly string[]): Promise<void>
  /** Ids of the retired master keys. */
  retiredKeyIds(): Promise<string[]>
  /** Records that an instance is alive, and what it holds (called every second or so). */
  beat(instance: InstanceInfo): Promise<void>
  /** Removes an instance's record (when it closes). */
  forgetInstance(id: string): Promise<void>
  /** Instances heard from within the last `withinMs` ms. */
  liveInstances(withinMs: number): Promise<SeenInstance[]>
  /** Releases connections and handles. */
  close(): Promise<void>
}

/** The error a store reports for a data key wrapped under a retired master key. */
export const retiredKeyError = (keyId: string) =>
  new PixstoreError('KEY_RETIRED', `Master key "${keyId}" has been retired by a key rotation: wrap new data keys under the current key`)
