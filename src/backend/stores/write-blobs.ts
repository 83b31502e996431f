import type { BlobStore } from './blob-store.js'

/** A blob to write: its key and bytes, whole or in parts (their concatenation is the blob). */
export interface NewBlob {
  key: string
  bytes: Uint8Array | readonly Uint8Array[]
}

const writeOne = (store: BlobStore, { key, bytes }: NewBlob): Promise<void> => {
  if (bytes instanceof Uint8Array) return store.write(key, bytes)
  return store.writeParts ? store.writeParts(key, bytes) : store.write(key, Buffer.concat(bytes))
}

/** Removes blobs no row names; one that cannot be removed now is left to gc. */
export const removeBlobs = (store: BlobStore, keys: readonly string[]): Promise<unknown> =>
  Promise.all(keys.map((key) => store.delete(key).catch(() => undefined)))

/**
 * Writes every blob, side by side, each durable when this resolves. All or none: if one
 * write fails, those that succeeded are removed and the first failure is thrown.
 */
export async function writeBlobs(store: BlobStore, blobs: readonly NewBlob[]): Promise<void> {
  const settled = await Promise.allSettled(blobs.map((blob) => writeOne(store, blob)))
  const failed = settled.find((result) => result.status === 'rejected')
  if (!failed) return
  await removeBlobs(store, blobs.filter((_, i) => settled[i]!.status === 'fulfilled').map((blob) => blob.key))
  throw failed.reason
}
