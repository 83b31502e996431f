import { PixstoreError } from '../shared/errors.js'
import { ownProperties } from '../shared/options.js'
import type { ImageRecord } from '../types/index.js'
import { createBoundedCache } from './bounded-cache.js'
import { assertValidId } from './ids.js'
import type { InstanceKeys } from './instance-keys.js'
import { dataKeyContext } from './master-keys.js'
import type { MetadataStore, StoredImage } from './stores/metadata-store.js'
import { openPlaceholder } from './variants/crypto.js'

/** Options of `getImageRecord` and `getImageRecordAsync`. */
export interface ImageRecordOptions {
  /**
   * Mint the proof as if at this time (ms since the epoch, not in the future), so that it
   * expires earlier: for tests and demos of proof expiry. Default: now.
   */
  issuedAt?: number
}

function issueTime(options: ImageRecordOptions | undefined): number | undefined {
  const issuedAt = ownProperties(options)?.issuedAt
  if (issuedAt === undefined) return undefined
  if (typeof issuedAt !== 'number' || !Number.isFinite(issuedAt) || issuedAt > Date.now()) {
    throw new PixstoreError('INVALID_ARGUMENT', 'getImageRecord: issuedAt must be a time in the past, in ms since the epoch')
  }
  return issuedAt
}

/** Most ids one `getImageRecords` call takes: a page of a list, not a whole table. */
export const MAX_RECORDS_PER_CALL = 1000

/** The ids of a `getImageRecords` call, each checked. */
function checkedIds(ids: unknown): readonly string[] {
  if (!Array.isArray(ids)) throw new PixstoreError('INVALID_ARGUMENT', 'getImageRecords: ids must be an array of image ids')
  if (ids.length > MAX_RECORDS_PER_CALL) {
    throw new PixstoreError('INVALID_ARGUMENT', `getImageRecords: at most ${MAX_RECORDS_PER_CALL} ids a call (got ${ids.length})`)
  }
  for (const id of ids) assertValidId(id)
  return ids as string[]
}

/** The data keys of stored images and the records made from them. */
export function createRecords(metadata: MetadataStore, keys: InstanceKeys) {
  // Every record and payload needs its image's data key: unwrapped once, then remembered.
  const unwrapped = createBoundedCache<{ key: Buffer; base64: string; placeholder?: string }>(20_000)
  const unwrap = (image: StoredImage) => {
    const cacheKey = `${image.keyId}\n${image.wrappedKey}\n${image.id}\n${image.blobKey}\n${image.placeholder ?? ''}`
    const known = unwrapped.get(cacheKey)
    if (known) return known
    const key = keys.unwrap(image.keyId, image.wrappedKey, dataKeyContext(image.id, image.blobKey))
    // A placeholder that does not open (written for another version) is left out: the record still serves.
    let placeholder: string | undefined
    try {
      placeholder = image.placeholder === undefined ? undefined : openPlaceholder(key, image.placeholder)
    } catch {
      placeholder = undefined
    }
    return unwrapped.set(cacheKey, { key, base64: key.toString('base64'), placeholder })
  }

  const toRecord = (image: StoredImage, issuedAt?: number): ImageRecord => {
    const { base64, placeholder } = unwrap(image)
    const record: ImageRecord = {
      id: image.id,
      token: image.token,
      meta: { key: base64, iv: image.iv, tag: image.tag },
      statelessProof: keys.signer.sign(image.id, issuedAt),
      format: image.format,
      bytes: image.bytes,
      width: image.width,
      height: image.height,
    }
    if (image.variants) record.variants = image.variants.map((variant) => ({ ...variant }))
    if (placeholder !== undefined) record.placeholder = placeholder
    return record
  }

  return {
    /** The unwrapped data key of a stored version. */
    dataKeyOf: (image: StoredImage): Buffer => unwrap(image).key,
    toRecord,
    /** The record of `id` from a synchronous read, or `null` if there is no such image. */
    getSync(id: string, options?: ImageRecordOptions): ImageRecord | null {
      assertValidId(id)
      const issuedAt = issueTime(options)
      if (!metadata.getSync) {
        throw new PixstoreError('UNSUPPORTED', 'This metadata store has no synchronous reads: use await getImageRecordAsync(id)')
      }
      const image = metadata.getSync(id)
      return image ? toRecord(image, issuedAt) : null
    },
    /** The records of `ids` from one synchronous read, in their order, `null` for each unknown id. */
    getManySync(ids: readonly string[], options?: ImageRecordOptions): (ImageRecord | null)[] {
      const checked = checkedIds(ids)
      const issuedAt = issueTime(options)
      if (!metadata.getManySync) {
        throw new PixstoreError('UNSUPPORTED', 'This metadata store has no synchronous reads: use await getImageRecordsAsync(ids)')
      }
      return metadata.getManySync(checked).map((image) => (image ? toRecord(image, issuedAt) : null))
    },
    /** The records of `ids`, read in one round trip where the store can, in their order, `null` for each unknown id. */
    async getMany(ids: readonly string[], options?: ImageRecordOptions): Promise<(ImageRecord | null)[]> {
      const checked = checkedIds(ids)
      const issuedAt = issueTime(options)
      const rows = metadata.getMany ? await metadata.getMany(checked) : await Promise.all(checked.map((id) => metadata.get(id)))
      return rows.map((image) => (image ? toRecord(image, issuedAt) : null))
    },
    /** The record of `id`, or `null` if there is no such image. */
    async get(id: string, options?: ImageRecordOptions): Promise<ImageRecord | null> {
      assertValidId(id)
      const issuedAt = issueTime(options)
      const image = await metadata.get(id)
      return image ? toRecord(image, issuedAt) : null
    },
  }
}
