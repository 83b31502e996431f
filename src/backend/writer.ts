import { randomBytes } from 'node:crypto'
import { PixstoreError } from '../shared/errors.js'
import { ownProperties } from '../shared/options.js'
import type { ImageRecord } from '../types/index.js'
import type { ResolvedBackendConfig } from './config.js'
import type { Events } from './events.js'
import { ENCRYPTION_PART_BYTES, encryptImage } from './encryption.js'
import { assertValidId, generateId } from './ids.js'
import { readImageFileWithin } from './image-file.js'
import { inspectImage } from './images/inspect.js'
import type { InstanceKeys } from './instance-keys.js'
import { dataKeyContext } from './master-keys.js'
import type { BlobStore } from './stores/blob-store.js'
import type { ImageVersion, MetadataStore, StoredImage } from './stores/metadata-store.js'
import { removeBlobs, writeBlobs } from './stores/write-blobs.js'
import { blobKeysOf, sealPlaceholder, variantBlobs } from './variants/crypto.js'
import { makeVariants } from './variants/make.js'
import { resolveVariantOptions, type ResolvedVariants, type VariantOptions } from './variants/options.js'

/** Image bytes as the backend accepts them. */
export type ImageInput = Uint8Array | ArrayBuffer

/** Where `saveImage` puts a new image: a `dir` prefix for a generated id, or an `id` the app chooses. */
export interface SaveImageOptions {
  /** Store under this id (for example a player id); fails with `ALREADY_EXISTS` if it is taken. */
  id?: string
  /** Prefix for a generated id: the id becomes `dir:<random>`. */
  dir?: string
  /** The variants to make of this image, or `false` for none. Default: the backend's `variants`. */
  variants?: VariantOptions | false
}

/** Options of `updateImage`. */
export interface UpdateImageOptions {
  /** The variants to make of the new version, or `false` for none. Default: the backend's `variants`. */
  variants?: VariantOptions | false
}

type VariantChoice = ResolvedVariants | false | undefined

/** Removals of replaced versions' blobs under way beyond which an update waits for its own. */
const MAX_REMOVALS = 64

function toBytes(image: unknown): Uint8Array {
  if (image instanceof Uint8Array) return image
  if (image instanceof ArrayBuffer) return new Uint8Array(image)
  throw new PixstoreError('INVALID_ARGUMENT', 'An image must be given as a Buffer, Uint8Array or ArrayBuffer')
}

/** The id a new image gets from `saveImage`'s second argument, and the variants it asks for. */
function resolveTarget(target: unknown): { id: string; variants: VariantChoice } {
  if (target === undefined) return { id: generateId(), variants: undefined }
  if (typeof target === 'string') return { id: generateId(target), variants: undefined }
  if (typeof target === 'object' && target !== null) {
    const { id, dir, variants, ...rest } = ownProperties(target as SaveImageOptions)
    const unknown = Object.keys(rest)[0]
    if (unknown !== undefined) throw new PixstoreError('INVALID_ARGUMENT', `saveImage: unknown option "${unknown}" (use "id", "dir" or "variants")`)
    if (id !== undefined && dir !== undefined) throw new PixstoreError('INVALID_ARGUMENT', 'saveImage: give either "id" or "dir", not both')
    const chosen = resolveVariantOptions(variants, 'saveImage', 'INVALID_ARGUMENT')
    if (id !== undefined) {
      assertValidId(id)
      return { id, variants: chosen }
    }
    return { id: generateId(dir), variants: chosen }
  }
  throw new PixstoreError('INVALID_ARGUMENT', 'saveImage: the second argument must be a directory name or { id } / { dir }')
}

function updateVariants(options: unknown): VariantChoice {
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) throw new PixstoreError('INVALID_ARGUMENT', 'updateImage: options must be { variants }')
  const { variants, ...rest } = ownProperties(options as UpdateImageOptions)
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) throw new PixstoreError('INVALID_ARGUMENT', `updateImage: unknown option "${unknown}" (use "variants")`)
  return resolveVariantOptions(variants, 'updateImage', 'INVALID_ARGUMENT')
}

interface WriterContext {
  events: Events
  config: ResolvedBackendConfig
  metadata: MetadataStore
  blobs: BlobStore
  keys: InstanceKeys
  toRecord(image: StoredImage): ImageRecord
}

/**
 * The write pipeline: check the bytes, remove metadata, encrypt under a fresh data key,
 * write the blob (durable), then commit the row, and remove the blob it replaced.
 */
export function createWriter({ config, metadata, blobs, keys, events, toRecord }: WriterContext) {
  const tooLarge = (size: number) =>
    new PixstoreError('TOO_LARGE', `The image is ${size} bytes; the limit is ${config.imageMaxBytes} bytes (option imageMaxBytes)`)

  // A rotation may retire the key this instance wraps under at any moment; the store then
  // refuses the commit, and the data key is wrapped again under the key now current.
  async function commitWrapped(version: Omit<ImageVersion, 'keyId' | 'wrappedKey'>, dataKey: Buffer, mode: 'create' | 'update', inlineBlob?: Uint8Array) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await metadata.commit({ ...version, ...keys.wrap(dataKey, dataKeyContext(version.id, version.blobKey)) }, mode, inlineBlob)
      } catch (error) {
        if (!(error instanceof PixstoreError && error.code === 'KEY_RETIRED') || attempt === 3) throw error
        keys.refresh()
        keys.useRetired(await metadata.retiredKeyIds())
      }
    }
  }

  // The blobs of a replaced version are removed after the update is acknowledged: no row
  // names them any more, so nothing waits for their removal (one the process does not live
  // to remove is left to gc, as after a crash). `settled` waits for those under way. Past
  // MAX_REMOVALS removals under way, an update waits for its own, so a burst of updates
  // cannot pile up deletes without bound.
  const removing = new Set<Promise<unknown>>()
  const removeLater = async (keys: readonly string[]) => {
    const removal = removeBlobs(blobs, keys).finally(() => removing.delete(removal))
    removing.add(removal)
    if (removing.size > MAX_REMOVALS) await removal
  }

  async function write(id: string, input: unknown, mode: 'create' | 'update', chosen: VariantChoice): Promise<ImageRecord> {
    const bytes = toBytes(input)
    if (bytes.byteLength > config.imageMaxBytes) throw tooLarge(bytes.byteLength)
    if (mode === 'update' && !(await metadata.get(id))) throw new PixstoreError('NOT_FOUND', `No image with id "${id}"`)
    const image = inspectImage(bytes, config.keepMetadata)
    if (image.canvasPixels > config.imageMaxPixels) {
      const declared = image.canvasPixels === image.width * image.height ? `${image.width} × ${image.height} pixels` : `${image.canvasPixels} pixels of canvas`
      throw new PixstoreError('TOO_LARGE', `The image is ${declared}; the limit is ${config.imageMaxPixels} pixels (option imageMaxPixels)`)
    }
    const formatByte = config.formats.toByte(image.format)
    if (formatByte === undefined) throw new PixstoreError('INVALID_IMAGE', `${image.format} images are not accepted here (option imageFormats)`)
    // What is stored is the image without its metadata (unless keepMetadata).
    const stored = image.stripped
    const variantOptions = chosen === undefined ? config.variants : chosen
    const made = variantOptions ? await makeVariants(stored, image.format, variantOptions, config.imageMaxPixels) : undefined
    // The ciphertext is the format byte and the image: one buffer when it goes inline in
    // the metadata store, parts when it goes to the blob store.
    const inline = metadata.inlineBlobs !== undefined && 1 + stored.byteLength <= metadata.inlineBlobs.maxBytes
    const encrypted = encryptImage(formatByte, stored, inline ? Infinity : ENCRYPTION_PART_BYTES)
    const inlineBlob = inline ? Buffer.concat(encrypted.parts) : undefined
    // Every version gets new blobs, durable before the metadata points at them (or, kept
    // inline, committed with it), so a reader or a crash only ever meets a complete old
    // version with all its variants or a complete new one.
    const blobKey = randomBytes(16).toString('hex')
    const written = [...(inline ? [] : [{ key: blobKey, bytes: encrypted.parts }]), ...variantBlobs(blobKey, encrypted.key, made?.variants ?? [])]
    await writeBlobs(blobs, written)
    const version = {
      id,
      iv: encrypted.iv.toString('base64'),
      tag: encrypted.tag.toString('base64'),
      blobKey,
      format: image.format,
      bytes: stored.byteLength,
      width: image.width,
      height: image.height,
      ...(made?.variants.length ? { variants: made.variants.map(({ variant }) => variant) } : {}),
      ...(made ? { placeholder: sealPlaceholder(encrypted.key, made.placeholder) } : {}),
    }
    let committed: Awaited<ReturnType<MetadataStore['commit']>>
    try {
      committed = await commitWrapped(version, encrypted.key, mode, inlineBlob)
    } catch (error) {
      // A commit can fail after it took effect (a timeout or a dropped connection while the
      // database committed): the row is read back, and the blob removed only when the row is
      // known not to name it. Committed after all, the write succeeded; the blob it replaced,
      // unknown here, is left to gc.
      const after = await metadata.get(id).then(
        (row) => ({ row }),
        () => undefined,
      )
      if (after?.row?.blobKey === blobKey) return toRecord(after.row)
      if (after) await removeBlobs(blobs, written.map((blob) => blob.key))
      throw error
    }
    if (committed.replaced) await removeLater(blobKeysOf(committed.replaced))
    return toRecord(committed.image)
  }

  const readFile = (file: unknown) => readImageFileWithin(file, config.imageMaxBytes)

  const stored = (record: ImageRecord) => ({ id: record.id, bytes: record.bytes })
  // The id a write is for, when it can be told before the write is tried.
  const knownId = (id: unknown) => (typeof id === 'string' ? id : undefined)
  const targetId = (target: unknown) =>
    typeof target === 'object' && target !== null ? knownId((target as SaveImageOptions).id) : undefined

  return {
    save: (input: unknown, target: unknown) =>
      events.write('save', targetId(target), async () => {
        const { id, variants } = resolveTarget(target)
        return write(id, input, 'create', variants)
      }, stored),
    update: (id: string, input: unknown, options?: unknown) =>
      events.write('update', knownId(id), async () => {
        assertValidId(id)
        return write(id, input, 'update', updateVariants(options))
      }, stored),
    saveFromFile: (file: unknown, target: unknown) =>
      events.write('save', targetId(target), async () => {
        const { id, variants } = resolveTarget(target)
        return write(id, await readFile(file), 'create', variants)
      }, stored),
    updateFromFile: (id: string, file: unknown, options?: unknown) =>
      events.write('update', knownId(id), async () => {
        assertValidId(id)
        return write(id, await readFile(file), 'update', updateVariants(options))
      }, stored),
    remove: (id: string): Promise<boolean> =>
      events.write('delete', knownId(id), async () => {
        assertValidId(id)
        const removed = await metadata.delete(id)
        if (removed) await removeBlobs(blobs, blobKeysOf(removed))
        return removed !== undefined
      }),
    /** Resolves once the blobs of replaced versions are removed. */
    settled: async (): Promise<void> => {
      while (removing.size > 0) await Promise.all(removing)
    },
    async exists(id: string): Promise<boolean> {
      assertValidId(id)
      return (await metadata.get(id)) !== undefined
    },
  }
}
