import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { PixstoreError } from '../shared/errors.js'
import { ownProperties } from '../shared/options.js'
import { reporting, reportingSync, setErrorHandlingMode } from '../shared/error-handling.js'
import { PayloadState, encodeUpdatedHeader } from '../shared/wire.js'
import type { ImageRecord } from '../types/index.js'
import { resolveBackendConfig, type PixstoreBackendConfig, type ResolvedBackendConfig } from './config.js'
import { encryptImage } from './encryption.js'
import { readImageFileWithin } from './image-file.js'
import { joinParts, type BodyPart } from './body-parts.js'
import { assertValidId, generateId, isValidId } from './ids.js'
import { inspectImage } from './images/inspect.js'
import { createInstanceKeys, type InstanceKeys } from './instance-keys.js'
import { startInstanceBeat } from './instance-beat.js'
import { dataKeyContext, type MasterKeySource } from './master-keys.js'
import {
  createMaintenance,
  type GcOptions,
  type GcReport,
  type RotateOptions,
  type RotationReport,
  type StoreStats,
  type VerifyReport,
} from './maintenance.js'
import type { SecretSource } from './secrets.js'
import type { BlobStore } from './stores/blob-store.js'
import { createBoundedCache } from './bounded-cache.js'
import { createFilesystemBlobStore } from './stores/blob/filesystem.js'
import { readCurrentBlob } from './stores/every-image.js'
import type { ImageVersion, MetadataStore, SeenInstance, StoredImage } from './stores/metadata-store.js'
import { createEmbeddedStores } from './stores/embedded.js'

/** Image bytes as the backend accepts them. */
export type ImageInput = Uint8Array | ArrayBuffer

/** Where `saveImage` puts a new image: a `dir` prefix for a generated id, or an `id` the app chooses. */
export interface SaveImageOptions {
  /** Store under this id (for example a player id); fails with `ALREADY_EXISTS` if it is taken. */
  id?: string
  /** Prefix for a generated id: the id becomes `dir:<random>`. */
  dir?: string
}

/** Options of `getImageRecord` and `getImageRecordAsync`. */
export interface ImageRecordOptions {
  /**
   * Mint the proof as if at this time (ms since the epoch, not in the future), so that it
   * expires earlier: for tests and demos of proof expiry. Default: now.
   */
  issuedAt?: number
}

/** One backend instance. The functions of `pixstore/backend` call the instance `initPixstoreBackend` made. */
export interface PixstoreBackend {
  /** The configuration in force, defaults filled in. */
  readonly config: ResolvedBackendConfig
  /** Where the proof secret came from: `option`, `environment`, `generated` or `loaded`. */
  readonly secretSource: SecretSource
  /** Where the master keys came from: `option`, `environment`, `generated` or `loaded`. */
  readonly masterKeySource: MasterKeySource
  saveImage(image: ImageInput, target?: string | SaveImageOptions): Promise<ImageRecord | null>
  updateImage(id: string, image: ImageInput): Promise<ImageRecord | null>
  saveImageFromFile(file: string, target?: string | SaveImageOptions): Promise<ImageRecord | null>
  updateImageFromFile(id: string, file: string): Promise<ImageRecord | null>
  deleteImage(id: string): Promise<boolean | null>
  imageExists(id: string): Promise<boolean | null>
  getImageRecord(id: string, options?: ImageRecordOptions): ImageRecord | null
  getImageRecordAsync(id: string, options?: ImageRecordOptions): Promise<ImageRecord | null>
  customEndpointHelper(imageId: string, clientToken: unknown, statelessProof: unknown): Promise<Uint8Array>
  /**
   * The payload as parts to send in order (a header, then the ciphertext, streamed where
   * the blob store can), without joining them.
   */
  payloadParts(imageId: unknown, clientToken: unknown, statelessProof: unknown): Promise<PayloadParts>
  /** Decrypts every stored image and reports those that are missing or fail authentication. */
  verify(onProgress?: (done: number) => void): Promise<VerifyReport>
  /** Removes encrypted files that no metadata row points to (left by a crash), never one a row points to. */
  gc(options?: GcOptions): Promise<GcReport>
  /**
   * Rewraps every data key under the current master key (the first this instance holds that
   * no rotation retired), without rewriting any image. Safe while other processes run: it
   * first waits until every live instance holds the current key (or reports them in
   * `notReady` and changes nothing), then retires every other key, so that no process can
   * wrap under one again, then rewraps. Resumable: run it again after an interruption.
   */
  rotateMasterKey(options?: RotateOptions): Promise<RotationReport>
  /** The backend instances (processes) sharing this store that were heard from lately, this one included. */
  liveInstances(): Promise<SeenInstance[]>
  /** Counts, bytes, oldest and newest update. */
  stats(): Promise<StoreStats>
  close(): Promise<void>
}

/** A payload ready to send: its parts in order (bytes, or streams of bytes) and its total length. */
export interface PayloadParts {
  parts: BodyPart[]
  length: number
}

/** Parses a client token from a header, query string or argument; anything malformed counts as no token. */
export function parseClientToken(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) return undefined
  const token = Number(value)
  return Number.isSafeInteger(token) ? token : undefined
}

function toBytes(image: unknown): Uint8Array {
  if (image instanceof Uint8Array) return image
  if (image instanceof ArrayBuffer) return new Uint8Array(image)
  throw new PixstoreError('INVALID_IMAGE', 'An image must be given as a Buffer, Uint8Array or ArrayBuffer')
}

// Images larger than this are streamed from stores that can stream, rather than read whole.
const STREAM_ABOVE = 1024 * 1024

const single = (state: number): PayloadParts => ({ parts: [Uint8Array.of(state)], length: 1 })


/**
 * Creates a backend instance on the embedded stores (SQLite and files under `dataDir`),
 * without starting any HTTP endpoint. Most apps call `initPixstoreBackend` instead.
 *
 * @throws PixstoreError `INVALID_CONFIG` for a bad option, `STORAGE_FAILED` if the data
 * directory cannot be used.
 */
const where = 'createPixstoreBackend'

export function createPixstoreBackend(given?: PixstoreBackendConfig): PixstoreBackend {
  const options = ownProperties(given)
  const config = resolveBackendConfig(options)
  // The mode is process-wide, shared with the frontend in the same realm: set it only when asked.
  if (options?.errorHandlingMode !== undefined) setErrorHandlingMode(config.errorHandlingMode)
  // With stores shared by several instances, every instance must hold the same secrets:
  // they come from configuration, never from a file one instance generated for itself.
  const shared = config.metadataStore !== undefined
  if (shared && !config.statelessProofSecret && !process.env.PIXSTORE_PROOF_SECRET) {
    throw new PixstoreError('INVALID_CONFIG', `${where}: with a shared metadataStore, give statelessProofSecret or PIXSTORE_PROOF_SECRET`)
  }
  if (shared && !config.masterKeys && !process.env.PIXSTORE_MASTER_KEY) {
    throw new PixstoreError('INVALID_CONFIG', `${where}: with a shared metadataStore, give masterKeys or PIXSTORE_MASTER_KEY`)
  }
  if (!shared || !config.blobStore) {
    try {
      fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
    } catch (cause) {
      throw new PixstoreError('STORAGE_FAILED', `Could not create the data directory ${config.dataDir}`, { cause })
    }
  }
  const embedded = config.metadataStore ? undefined : createEmbeddedStores({ dataDir: config.dataDir, inlineMaxBytes: config.inlineImageMaxBytes })
  const metadata: MetadataStore = config.metadataStore ?? embedded!.metadata
  let keys: InstanceKeys
  try {
    keys = createInstanceKeys({
      dataDir: config.dataDir,
      masterKeys: config.masterKeys,
      proofSecrets: config.statelessProofSecret,
      proofWindowMs: config.statelessKeyWindowLength,
      keyIdsInUse: () => embedded?.metadata.keyIdsInUseSync() ?? [],
    })
  } catch (error) {
    void embedded?.metadata.close()
    throw error
  }
  const signer = keys.signer
  const beat = startInstanceBeat(metadata, keys, config.statelessKeyWindowLength)
  // Every record and payload needs its image's data key: unwrapped once, then remembered.
  const unwrapped = createBoundedCache<{ key: Buffer; base64: string }>(20_000)
  const unwrap = (image: StoredImage) => {
    const cacheKey = `${image.keyId}\n${image.wrappedKey}\n${image.id}\n${image.blobKey}`
    const known = unwrapped.get(cacheKey)
    if (known) return known
    const key = keys.unwrap(image.keyId, image.wrappedKey, dataKeyContext(image.id, image.blobKey))
    return unwrapped.set(cacheKey, { key, base64: key.toString('base64') })
  }
  const dataKeyOf = (image: StoredImage) => unwrap(image).key
  const blobs: BlobStore = config.blobStore ?? embedded?.blobs ?? createFilesystemBlobStore({ dir: path.join(config.dataDir, 'images') })

  const issueTime = (options: ImageRecordOptions | undefined): number | undefined => {
    const issuedAt = ownProperties(options)?.issuedAt
    if (issuedAt === undefined) return undefined
    if (typeof issuedAt !== 'number' || !Number.isFinite(issuedAt) || issuedAt > Date.now()) {
      throw new PixstoreError('INVALID_CONFIG', 'getImageRecord: issuedAt must be a time in the past, in ms since the epoch')
    }
    return issuedAt
  }

  const toRecord = (image: StoredImage, issuedAt?: number): ImageRecord => ({
    id: image.id,
    token: image.token,
    meta: { key: unwrap(image).base64, iv: image.iv, tag: image.tag },
    statelessProof: signer.sign(image.id, issuedAt),
    format: image.format,
    bytes: image.bytes,
    width: image.width,
    height: image.height,
  })

  const readImageFile = (file: unknown) => readImageFileWithin(file, config.maxImageBytes)

  const tooLarge = (size: number) =>
    new PixstoreError('TOO_LARGE', `The image is ${size} bytes; the limit is ${config.maxImageBytes} bytes (option maxImageBytes)`)

  async function write(id: string, input: unknown, mode: 'create' | 'update'): Promise<ImageRecord> {
    const bytes = toBytes(input)
    if (bytes.byteLength > config.maxImageBytes) throw tooLarge(bytes.byteLength)
    if (mode === 'update' && !(await metadata.get(id))) throw new PixstoreError('NOT_FOUND', `No image with id "${id}"`)
    const image = inspectImage(bytes, config.keepMetadata)
    if (image.canvasPixels > config.maxImagePixels) {
      const declared = image.canvasPixels === image.width * image.height ? `${image.width} × ${image.height} pixels` : `${image.canvasPixels} pixels of canvas`
      throw new PixstoreError('TOO_LARGE', `The image is ${declared}; the limit is ${config.maxImagePixels} pixels (option maxImagePixels)`)
    }
    // What is stored is the image without its metadata (unless keepMetadata).
    const stored = image.stripped
    const encrypted = encryptImage(image.format, stored)
    // Every version gets a new file, durable before the metadata points at it, so a reader
    // (or a crash) only ever meets a complete old version or a complete new one.
    const blobKey = randomBytes(16).toString('hex')
    await blobs.write(blobKey, encrypted.ciphertext)
    const version = {
      id,
      iv: encrypted.iv.toString('base64'),
      tag: encrypted.tag.toString('base64'),
      blobKey,
      format: image.format,
      bytes: stored.byteLength,
      width: image.width,
      height: image.height,
    }
    let committed: Awaited<ReturnType<MetadataStore['commit']>>
    try {
      committed = await commitWrapped(version, encrypted.key, mode)
    } catch (error) {
      await blobs.delete(blobKey).catch(() => undefined)
      throw error
    }
    if (committed.replacedBlobKey) await blobs.delete(committed.replacedBlobKey).catch(() => undefined)
    return toRecord(committed.image)
  }

  // A rotation may retire the key this instance wraps under at any moment; the store then
  // refuses the commit, and the data key is wrapped again under the key now current.
  async function commitWrapped(version: Omit<ImageVersion, 'keyId' | 'wrappedKey'>, dataKey: Buffer, mode: 'create' | 'update') {
    for (let attempt = 1; ; attempt++) {
      try {
        return await metadata.commit({ ...version, ...keys.wrap(dataKey, dataKeyContext(version.id, version.blobKey)) }, mode)
      } catch (error) {
        if (!(error instanceof PixstoreError && error.code === 'KEY_RETIRED') || attempt === 3) throw error
        keys.refresh(await metadata.retiredKeyIds())
      }
    }
  }

  function resolveTarget(target: unknown): string {
    if (target === undefined) return generateId()
    if (typeof target === 'string') return generateId(target)
    if (typeof target === 'object' && target !== null) {
      const { id, dir, ...rest } = ownProperties(target as SaveImageOptions)
      const unknown = Object.keys(rest)[0]
      if (unknown !== undefined) throw new PixstoreError('INVALID_ID', `saveImage: unknown option "${unknown}" (use "id" or "dir")`)
      if (id !== undefined && dir !== undefined) throw new PixstoreError('INVALID_ID', 'saveImage: give either "id" or "dir", not both')
      if (id !== undefined) {
        assertValidId(id)
        return id
      }
      return generateId(dir)
    }
    throw new PixstoreError('INVALID_ID', 'saveImage: the second argument must be a directory name or { id } / { dir }')
  }

  async function loadCurrent(id: string, stream: boolean): Promise<{ image: StoredImage; body: BodyPart; size: number } | undefined> {
    const found = await readCurrentBlob(metadata, id, async (image) => {
      // Large images are streamed where the store can; smaller ones are read whole, which
      // costs less per request.
      if (stream && blobs.open && image.bytes + 1 > STREAM_ABOVE) {
        const opened = await blobs.open(image.blobKey)
        return opened && { body: opened.body, size: opened.size }
      }
      const bytes = await blobs.read(image.blobKey)
      return bytes && { body: bytes, size: bytes.byteLength }
    })
    return found && { image: found.image, ...found.value }
  }

  async function payloadParts(imageId: unknown, clientToken: unknown, statelessProof: unknown, stream = true): Promise<PayloadParts> {
    if (imageId === undefined || imageId === null || imageId === '') return single(PayloadState.MissingID)
    if (statelessProof === undefined || statelessProof === null || statelessProof === '') return single(PayloadState.MissingProof)
    // The proof is checked before anything is looked up: without it, nothing tells whether an id exists.
    if (!isValidId(imageId) || typeof statelessProof !== 'string' || !signer.verify(imageId, statelessProof)) {
      return single(PayloadState.InvalidProof)
    }
    try {
      const current = await loadCurrent(imageId, stream)
      if (!current) return single(PayloadState.NotFound)
      const { image, body, size } = current
      const header =
        parseClientToken(clientToken) === image.token
          ? Uint8Array.of(PayloadState.Success)
          : encodeUpdatedHeader(image.token, dataKeyOf(image), Buffer.from(image.iv, 'base64'), Buffer.from(image.tag, 'base64'))
      return { parts: [header, body], length: header.byteLength + size }
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error)
      console.error(`[pixstore] serving image "${imageId}" failed: ${detail}`)
      return single(PayloadState.InternalError)
    }
  }

  const getRecordSync = (id: string, options?: ImageRecordOptions): ImageRecord => {
    assertValidId(id)
    const issuedAt = issueTime(options)
    if (!metadata.getSync) {
      throw new PixstoreError('UNSUPPORTED', 'This metadata store has no synchronous reads: use await getImageRecordAsync(id)')
    }
    const image = metadata.getSync(id)
    if (!image) throw new PixstoreError('NOT_FOUND', `No image with id "${id}"`)
    return toRecord(image, issuedAt)
  }

  const maintenance = createMaintenance({ metadata, blobs, keys, beat, dataKeyOf: (image) => dataKeyOf(image) })

  return {
    config,
    secretSource: keys.secretSource,
    masterKeySource: keys.masterKeySource,
    verify: (onProgress) => maintenance.verify(onProgress),
    gc: (gcOptions) => maintenance.gc(ownProperties(gcOptions ?? {})),
    rotateMasterKey: (rotateOptions) => maintenance.rotateMasterKey(ownProperties(rotateOptions ?? {})),
    liveInstances: () => maintenance.liveInstances(),
    stats: () => maintenance.stats(),
    saveImage: (image, target) => reporting(async () => write(resolveTarget(target), image, 'create')),
    updateImage: (id, image) =>
      reporting(async () => {
        assertValidId(id)
        return write(id, image, 'update')
      }),
    saveImageFromFile: (file, target) =>
      reporting(async () => {
        const id = resolveTarget(target)
        return write(id, await readImageFile(file), 'create')
      }),
    updateImageFromFile: (id, file) =>
      reporting(async () => {
        assertValidId(id)
        return write(id, await readImageFile(file), 'update')
      }),
    deleteImage: (id) =>
      reporting(async () => {
        assertValidId(id)
        const removed = await metadata.delete(id)
        if (removed) await blobs.delete(removed.blobKey).catch(() => undefined)
        return removed !== undefined
      }),
    imageExists: (id) =>
      reporting(async () => {
        assertValidId(id)
        return (await metadata.get(id)) !== undefined
      }),
    getImageRecord: (id, options) => reportingSync(() => getRecordSync(id, options)),
    getImageRecordAsync: (id, options) =>
      reporting(async () => {
        assertValidId(id)
        const issuedAt = issueTime(options)
        const image = await metadata.get(id)
        if (!image) throw new PixstoreError('NOT_FOUND', `No image with id "${id}"`)
        return toRecord(image, issuedAt)
      }),
    payloadParts,
    async customEndpointHelper(imageId, clientToken, statelessProof) {
      // One buffer is wanted here, so the image is read whole rather than streamed.
      const { parts } = await payloadParts(imageId, clientToken, statelessProof, false)
      return joinParts(parts)
    },
    async close() {
      await beat.stop()
      await Promise.all([metadata.close(), blobs.close()])
    },
  }
}
