import type { BlobInfo, BlobStore, BlobStream } from './blob-store.js'
import type { MetadataStore } from './metadata-store.js'

type FilePaths = ReturnType<NonNullable<BlobStore['filePath']>>

/** `bytes` in a buffer from `allocate`, after `room` free bytes. */
export function frameAfter(bytes: Uint8Array, room: number, allocate: (length: number) => Uint8Array = Buffer.allocUnsafe): Uint8Array {
  const framed = allocate(room + bytes.byteLength)
  framed.set(bytes, room)
  return framed
}

/** Every blob of a backend, wherever it lives: inline in the metadata store, or in the blob store. */
export interface StoredBlobs {
  read(key: string): Promise<Uint8Array | undefined>
  /** The blob after `room` free bytes, where the store can read it so. */
  readWithRoom?(key: string, room: number, size?: number, allocate?: (length: number) => Uint8Array): Promise<Uint8Array | undefined>
  /** A URL the blob can be fetched from, where the blob store hands blobs out so (never an inline blob). */
  locate?(key: string): Promise<string | undefined>
  /** Where the blob is a file of the blob store (not inline), its paths (see `BlobStore.filePath`). */
  filePath?(key: string): FilePaths | undefined | Promise<FilePaths | undefined>
  /** The blob as a stream with its size, where it can be streamed. */
  open?(key: string, allocate?: (length: number) => Uint8Array): Promise<BlobStream | undefined>
  delete(key: string): Promise<void>
  list?(): AsyncIterable<BlobInfo>
}

/**
 * The reading side of a backend's blobs: inline ones first (the metadata store's), then the
 * blob store's. A blob larger than any new inline blob is looked for in the blob store
 * first (it can still be inline, kept while the limit was higher).
 */
export function storedBlobs(metadata: MetadataStore, blobs: BlobStore): StoredBlobs {
  const inline = metadata.inlineBlobs
  if (!inline) return blobs
  const largerThanInline = (size: number | undefined) => size !== undefined && size > inline.maxBytes
  return {
    read: async (key) => (await inline.read(key)) ?? blobs.read(key),
    readWithRoom: blobs.readWithRoom
      ? async (key, room, size, allocate = Buffer.allocUnsafe) => {
          if (largerThanInline(size)) {
            const stored = await blobs.readWithRoom!(key, room, size, allocate)
            if (stored) return stored
          }
          const bytes = await inline.read(key)
          if (!bytes) return largerThanInline(size) ? undefined : blobs.readWithRoom!(key, room, size, allocate)
          return frameAfter(bytes, room, allocate)
        }
      : undefined,
    open: blobs.open
      ? async (key, allocate) => {
          const bytes = await inline.read(key)
          if (!bytes) return blobs.open!(key, allocate)
          return {
            size: bytes.byteLength,
            body: (async function* () {
              yield bytes
            })(),
          }
        }
      : undefined,
    locate: blobs.locate
      ? async (key) => ((await inline.read(key)) ? undefined : blobs.locate!(key))
      : undefined,
    filePath: blobs.filePath
      ? async (key) => ((await inline.read(key)) ? undefined : blobs.filePath!(key))
      : undefined,
    async delete(key) {
      await inline.delete(key)
      await blobs.delete(key)
    },
    list: blobs.list
      ? async function* () {
          yield* inline.list()
          yield* blobs.list!()
        }
      : undefined,
  }
}
