import type { BodyPart } from './body-parts.js'
import { isValidId } from './ids.js'
import type { ProofSigner } from './proof.js'
import { frameAfter, type StoredBlobs } from './stores/stored-blobs.js'
import { readCurrentBlob } from './stores/every-image.js'
import type { MetadataStore, StoredImage } from './stores/metadata-store.js'
import { parseVariantName, variantName, type ImageVariant } from '../shared/variants.js'
import { TAG_LENGTH } from '../shared/wire.js'
import { variantBlobKey } from './variants/crypto.js'

/**
 * What the image route found for a request, before any encoding: a refusal, or the
 * current version's ciphertext, with its data key when the client holds another version.
 */
export type ServedImage =
  | { state: 'missing-id' }
  | { state: 'missing-proof' }
  | { state: 'invalid-proof' }
  | { state: 'not-found' }
  | { state: 'failed' }
  /** The client holds this version: only the ciphertext goes back. */
  | { state: 'current'; image: StoredImage; body: BodyPart; size: number }
  /** The client holds this version and asked for one of its variants: that variant's ciphertext (tag appended) goes back. */
  | { state: 'variant'; image: StoredImage; variant: ImageVariant; body: BodyPart; size: number }
  /** The client holds another version (or none): the ciphertext and its meta go back. */
  | { state: 'updated'; image: StoredImage; dataKey: Buffer; body: BodyPart; size: number }
  /**
   * The client holds this version, and the blob store hands it out itself: the client is
   * to fetch the ciphertext from `url` (only when `locate` was asked for).
   */
  | { state: 'located'; image: StoredImage; url: string }
  /**
   * The client holds this version, and the web server in front of the app sends the
   * encrypted file (of the variant, if one was asked for) itself (`fileDelivery`; only
   * when `locate` was asked for).
   */
  | { state: 'file'; image: StoredImage; variant?: ImageVariant; path: string; relativePath: string }

/** Options of `serveImage`. */
export interface ServeOptions {
  /** Stream large images where the blob store can, instead of reading them whole. Default `true`. */
  stream?: boolean
  /**
   * Where the blob store hands blobs out itself (S3 with `redirect`), answer a client that
   * holds the current version with `located` and the object's URL instead of its bytes;
   * with `fileDelivery`, with `file` and the file's path. Default `false`.
   */
  locate?: boolean
  /**
   * The variant the client asks for, by name (`<width>.<format>`, see the record's
   * `variants`). It is served when the client holds the current version and the version has
   * it; otherwise the answer is `updated` with the current original, which the client can
   * always decrypt.
   */
  variant?: string
}

/**
 * Pixstore's own serving options: `headerRoom` reads an image that is not streamed whole,
 * after that many free bytes (`frame`), so that the header can be written in front of it;
 * `allocate` gives the buffer it is read into.
 */
export interface InternalServeOptions extends ServeOptions {
  headerRoom?: (image: StoredImage) => number
  allocate?: (length: number) => Uint8Array
}

/** An answer whose image was read into `frame`, after free room for the payload header. */
export type FramedServedImage = ServedImage & { frame?: Uint8Array }

// Images larger than this are streamed from stores that can stream, rather than read whole.
const STREAM_ABOVE = 1024 * 1024

const isMissing = (value: unknown) => value === undefined || value === null || value === ''

/** Where the time of one request went, in ms. */
export interface ServeTimings {
  durationMs: number
  /** In the stores: the metadata store, then reading or opening the blob. */
  storesMs: number
  blobMs: number
}

/**
 * The serving side of a backend: checks a request's proof and finds what to send.
 * `onServed`, if given, learns each answer and where its time went.
 */
export function createServing(
  metadata: MetadataStore,
  blobs: StoredBlobs,
  signer: ProofSigner,
  dataKeyOf: (image: StoredImage) => Buffer,
  onServed?: (id: string | undefined, served: ServedImage, timings: ServeTimings) => void,
  filesSentByServer = false,
) {
  // Where a client holding the current version can get its bytes without them passing here.
  const handOut = async (image: StoredImage, key: string, variant?: ImageVariant): Promise<FramedServedImage | undefined> => {
    const url = blobs.locate ? await blobs.locate(key) : undefined
    if (url) return { state: 'located', image, url }
    const file = filesSentByServer && blobs.filePath ? await blobs.filePath(key) : undefined
    if (file) return { state: 'file', image, ...(variant ? { variant } : {}), ...file }
    return undefined
  }
  const canHandOut = blobs.locate !== undefined || (filesSentByServer && blobs.filePath !== undefined)

  // `first`: the row already read for this request, if any.
  async function loadCurrent(id: string, options: InternalServeOptions, timings: ServeTimings, first?: StoredImage) {
    const { stream = true, headerRoom, allocate } = options
    // A small image kept inline comes with its row, in one read, where the store can.
    if (!first && metadata.inlineBlobs?.getWithBlob) {
      const found = await metadata.inlineBlobs.getWithBlob(id)
      if (!found) return undefined
      if (!found.blob) return loadCurrent(id, options, timings, found.image)
      // Copied even without room: the store's blob may be shared with other readers.
      const room = headerRoom?.(found.image) ?? 0
      const frame = frameAfter(found.blob, room, allocate)
      return { image: found.image, body: frame.subarray(room) as BodyPart, size: found.blob.byteLength, frame }
    }
    const found = await readCurrentBlob(metadata, id, async (image) => {
      const started = performance.now()
      try {
        const streams = stream && blobs.open !== undefined && image.bytes + 1 > STREAM_ABOVE
        if (headerRoom && blobs.readWithRoom && !streams) {
          const room = headerRoom(image)
          // The ciphertext is as long as the image and its format byte.
          const frame = await blobs.readWithRoom(image.blobKey, room, image.bytes + 1, allocate)
          return frame && { body: frame.subarray(room) as BodyPart, size: frame.byteLength - room, frame }
        }
        // Large images are streamed where the store can; smaller ones are read whole, which
        // costs less per request.
        if (streams) {
          const opened = await blobs.open!(image.blobKey, allocate)
          return opened && { body: opened.body as BodyPart, size: opened.size }
        }
        const bytes = await blobs.read(image.blobKey)
        return bytes && { body: bytes as BodyPart, size: bytes.byteLength }
      } finally {
        timings.blobMs += performance.now() - started
      }
    }, first)
    return found && { image: found.image, ...found.value }
  }

  // The variant a request names, of `image` (the current row), if the client holds that version and it has one.
  async function findVariant(
    image: StoredImage,
    clientToken: number | undefined,
    { variant: name, locate, allocate }: InternalServeOptions,
    timings: ServeTimings,
  ): Promise<FramedServedImage | undefined> {
    const wanted = parseVariantName(name)
    const variant = wanted && clientToken === image.token ? image.variants?.find((v) => variantName(v) === variantName(wanted)) : undefined
    if (!variant) return undefined
    const key = variantBlobKey(image.blobKey, variant)
    const started = performance.now()
    try {
      if (locate && canHandOut) {
        const handed = await handOut(image, key, variant)
        if (handed) return handed
      }
      const room = blobs.readWithRoom ? 1 : 0
      const frame = room ? await blobs.readWithRoom!(key, room, variant.bytes + TAG_LENGTH, allocate) : await blobs.read(key)
      // Gone when an update replaced the version meanwhile: the current original answers.
      if (!frame) return undefined
      const body = frame.subarray(room) as BodyPart
      return { state: 'variant', image, variant, body, size: frame.byteLength - room, ...(room ? { frame } : {}) }
    } finally {
      timings.blobMs += performance.now() - started
    }
  }

  async function find(
    imageId: unknown,
    clientToken: number | undefined,
    proof: unknown,
    options: InternalServeOptions,
    timings: ServeTimings,
  ): Promise<FramedServedImage> {
    if (isMissing(imageId)) return { state: 'missing-id' }
    if (isMissing(proof)) return { state: 'missing-proof' }
    // The proof is checked before anything is looked up: without it, nothing tells whether an id exists.
    if (!isValidId(imageId) || typeof proof !== 'string' || !signer.verify(imageId, proof)) return { state: 'invalid-proof' }
    const started = performance.now()
    try {
      // A variant or a redirect needs the row first; it is read once, and reused for the original.
      let row: StoredImage | undefined
      if (options.variant !== undefined || (options.locate && canHandOut)) {
        row = await metadata.get(imageId)
        if (!row) return { state: 'not-found' }
        if (options.variant !== undefined) {
          const found = await findVariant(row, clientToken, options, timings)
          if (found) return found
        } else {
          const handed = clientToken === row.token ? await handOut(row, row.blobKey) : undefined
          if (handed) return handed
        }
      }
      const current = await loadCurrent(imageId, options, timings, row)
      if (!current) return { state: 'not-found' }
      if (clientToken === current.image.token && options.variant === undefined) return { state: 'current', ...current }
      return { state: 'updated', ...current, dataKey: dataKeyOf(current.image) }
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error)
      console.error(`[pixstore] serving image "${imageId}" failed: ${detail}`)
      return { state: 'failed' }
    } finally {
      timings.storesMs = performance.now() - started
    }
  }

  return {
    /** Whether the blob store can hand blobs out itself (`locate`). */
    canLocate: blobs.locate !== undefined,
    /**
     * What to answer a request for `imageId` from a client holding version `clientToken`
     * (`undefined` for none) with `proof`. Never throws: a failure is `failed`, and logged.
     */
    async serve(imageId: unknown, clientToken: number | undefined, proof: unknown, options: InternalServeOptions = {}): Promise<FramedServedImage> {
      const timings: ServeTimings = { durationMs: 0, storesMs: 0, blobMs: 0 }
      const started = performance.now()
      const served = await find(imageId, clientToken, proof, options, timings)
      if (onServed) {
        timings.durationMs = performance.now() - started
        onServed(isValidId(imageId) ? imageId : undefined, served, timings)
      }
      return served
    },
  }
}
