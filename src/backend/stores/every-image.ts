import { PixstoreError } from '../../shared/errors.js'
import type { MetadataStore, StoredImage } from './metadata-store.js'

const PAGE = 500

/** Every row of a metadata store, in id order, page by page (for maintenance and migration). */
export async function* everyImage(metadata: MetadataStore, pageSize = PAGE): AsyncGenerator<StoredImage> {
  let after: string | undefined
  for (;;) {
    const page = await metadata.list(after, pageSize)
    yield* page
    if (page.length < pageSize) return
    after = page[page.length - 1]!.id
  }
}

/** How many rows a metadata store holds. */
export async function countImages(metadata: MetadataStore): Promise<number> {
  let count = 0
  for await (const image of everyImage(metadata, 1000)) if (image) count++
  return count
}

/**
 * Reads the blob of the current version of `id` with `read`, starting from `first` if given
 * (a row already read). The blob of a version is removed right after a newer version
 * commits, so a row read just before may have no blob any more: the row is then read again,
 * up to 8 times. `undefined` when there is no row.
 *
 * @throws PixstoreError `STORAGE_FAILED` if the blob is missing every time.
 */
export async function readCurrentBlob<T>(
  metadata: MetadataStore,
  id: string,
  read: (image: StoredImage) => Promise<T | undefined>,
  first?: StoredImage,
): Promise<{ image: StoredImage; value: T } | undefined> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const image = attempt === 0 && first ? first : await metadata.get(id)
    if (!image) return undefined
    const value = await read(image)
    if (value !== undefined) return { image, value }
  }
  throw new PixstoreError('STORAGE_FAILED', `The encrypted file of image "${id}" is missing`)
}
