import type { BlobStore } from './blob-store.js'

/** A blob to write: its key and bytes, whole or in parts (their concatenation is the blob). */
export interface NewBlob {
  key: string
  bytes: Uint8Array | readonly Uint8Array[]
}

/**
 * Pixstore's own stores can write a blob given in parts (large images are encrypted in
 * parts) without joining them first. The capability is a hidden property: a store an app
 * wraps (`{ ...store, write }`) does not copy it, so every blob still goes through the
 * wrapper's `write`.
 */
const writeParts = Symbol('pixstore.writeParts')

type PartsWriter = (key: string, parts: readonly Uint8Array[]) => Promise<void>

/** Gives `store` the hidden parts-writing capability; returns `store`. */
export function withPartsWriter<S extends BlobStore>(store: S, write: PartsWriter): S {
  Object.defineProperty(store, writeParts, { value: write, enumerable: false })
  return store
}

/** Writes one blob: its parts as they are where the store can, else joined. */
export const writeBlob = (store: BlobStore, { key, bytes }: NewBlob): Promise<void> => {
  if (bytes instanceof Uint8Array) return store.write(key, bytes)
  const parts = (store as BlobStore & { [writeParts]?: PartsWriter })[writeParts]
  return parts ? parts(key, bytes) : store.write(key, Buffer.concat(bytes))
}

/** Removes blobs no row names; one that cannot be removed now is left to gc. */
export const removeBlobs = (store: BlobStore, keys: readonly string[]): Promise<unknown> =>
  Promise.all(keys.map((key) => store.delete(key).catch(() => undefined)))

/**
 * Writes every blob, side by side, each durable when this resolves. All or none: if one
 * write fails, those that succeeded are removed and the first failure is thrown.
 */
export async function writeBlobs(store: BlobStore, blobs: readonly NewBlob[]): Promise<void> {
  const settled = await Promise.allSettled(blobs.map((blob) => writeBlob(store, blob)))
  const failed = settled.find((result) => result.status === 'rejected')
  if (!failed) return
  await removeBlobs(store, blobs.filter((_, i) => settled[i]!.status === 'fulfilled').map((blob) => blob.key))
  throw failed.reason
}
