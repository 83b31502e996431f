import fs from 'node:fs'
import path from 'node:path'
import { PixstoreError } from '../shared/errors.js'
import { ownProperties } from '../shared/options.js'
import type { ImageRecord } from '../types/index.js'
import { resolveBackendConfig, type PixstoreBackendConfig, type ResolvedBackendConfig } from './config.js'
import { createEvents } from './events.js'
import { encodeServedWhole, headerLengthFor, parseClientToken, payloadLength } from './http/payload.js'
import { startInstanceBeat } from './instance-beat.js'
import { createInstanceKeys, type InstanceKeys } from './instance-keys.js'
import { refuseUnimportedLegacyData } from './legacy-3x.js'
import type { MasterKeySource } from './master-keys.js'
import {
  createMaintenance,
  type GcOptions,
  type GcReport,
  type RotateOptions,
  type RotationReport,
  type StoreStats,
  type VerifyReport,
} from './maintenance.js'
import { createRecords, type ImageRecordOptions } from './records.js'
import type { SecretSource } from './secret-source.js'
import { createServing, type ServedImage, type ServeOptions } from './serving.js'
import type { BlobStore } from './stores/blob-store.js'
import { createFilesystemBlobStore } from './stores/blob/filesystem.js'
import { createEmbeddedStores } from './stores/embedded.js'
import { storedBlobs } from './stores/stored-blobs.js'
import type { MetadataStore, SeenInstance } from './stores/metadata-store.js'
import { backfillVariants, type BackfillOptions, type BackfillReport } from './variants/backfill.js'
import { createWriter, type ImageInput, type SaveImageOptions, type UpdateImageOptions } from './writer.js'

export type { ImageInput, SaveImageOptions, UpdateImageOptions } from './writer.js'

/** Options of `customEndpointHelper`. */
export interface EndpointHelperOptions {
  /** The variant the client asks for (`<width>.<format>`), as the frontend's fetcher receives it. */
  variant?: string
}
export type { ImageRecordOptions } from './records.js'
export type { ServedImage, ServeOptions } from './serving.js'

/**
 * One backend instance. Its methods throw a `PixstoreError` on failure; a missing image is
 * `null` only where absence is a normal answer (`getImageRecord` of an unknown id). The
 * seed-style functions of `pixstore/backend` call the instance `initPixstoreBackend` made.
 */
export interface PixstoreBackend {
  /** The configuration in force, defaults filled in. */
  readonly config: ResolvedBackendConfig
  /** Where the proof secret came from: `option`, `environment`, `generated` or `loaded`. */
  readonly secretSource: SecretSource
  /** Where the master keys came from: `option`, `environment`, `generated` or `loaded`. */
  readonly masterKeySource: MasterKeySource
  /**
   * Encrypts and stores a new image; `target` is a directory prefix for a generated id or `{ id }`.
   *
   * @throws PixstoreError `INVALID_IMAGE`, `TOO_LARGE`, `INVALID_ID`, `ALREADY_EXISTS`, `INVALID_ARGUMENT`, `STORAGE_FAILED`.
   */
  saveImage(image: ImageInput, target?: string | SaveImageOptions): Promise<ImageRecord>
  /** Replaces the image `id` under a new key and a greater token. Errors as `saveImage`, plus `NOT_FOUND`. */
  updateImage(id: string, image: ImageInput, options?: UpdateImageOptions): Promise<ImageRecord>
  /** `saveImage` with a regular file's bytes, read within `imageMaxBytes`. */
  saveImageFromFile(file: string, target?: string | SaveImageOptions): Promise<ImageRecord>
  /** `updateImage` with a regular file's bytes. */
  updateImageFromFile(id: string, file: string, options?: UpdateImageOptions): Promise<ImageRecord>
  /** Deletes the image `id`; `true` if it existed. */
  deleteImage(id: string): Promise<boolean>
  /** Whether an image `id` exists. */
  imageExists(id: string): Promise<boolean>
  /**
   * The current record of `id` with a fresh proof, synchronously, or `null` if there is no
   * such image. Only stores with synchronous reads have it (the embedded default).
   *
   * @throws PixstoreError `INVALID_ID`, `UNSUPPORTED` on other stores, `DECRYPT_FAILED` if its key cannot be unwrapped.
   */
  getImageRecord(id: string, options?: ImageRecordOptions): ImageRecord | null
  /** The awaitable form of `getImageRecord`, on every store. */
  getImageRecordAsync(id: string, options?: ImageRecordOptions): Promise<ImageRecord | null>
  /**
   * The records of up to 1000 ids (a page of a list) from one synchronous read, in the
   * order of `ids`, `null` for each unknown id. Embedded store only, like `getImageRecord`.
   *
   * @throws PixstoreError `INVALID_ID` for any invalid id, `INVALID_ARGUMENT` for more than 1000, `UNSUPPORTED` on other stores.
   */
  getImageRecords(ids: readonly string[], options?: ImageRecordOptions): (ImageRecord | null)[]
  /** The awaitable form of `getImageRecords`, on every store: one query on PostgreSQL. */
  getImageRecordsAsync(ids: readonly string[], options?: ImageRecordOptions): Promise<(ImageRecord | null)[]>
  /**
   * The encoded payload for an app's own image route: the client's id, token and proof in,
   * wire bytes out; `options.variant` is the variant the client asked for (the frontend's
   * fetcher receives it).
   */
  customEndpointHelper(imageId: string, clientToken: unknown, statelessProof: unknown, options?: EndpointHelperOptions): Promise<Uint8Array>
  /**
   * What the image route answers a client holding version `clientToken` (`undefined` for
   * none) that presents `proof`: a refusal, or the ciphertext (with its data key when the
   * client holds another version). Never throws; the HTTP handlers encode it. A large
   * image's `body` is an open stream (a file, a socket): read it to its end or destroy it.
   */
  serveImage(imageId: unknown, clientToken: number | undefined, proof: unknown, options?: ServeOptions): Promise<ServedImage>
  /** Whether the blob store hands images out itself, so that the image route can answer with redirects (S3 with `redirect`). */
  readonly redirects: boolean
  /** Decrypts every stored image and reports those that are missing or fail authentication. */
  verify(onProgress?: (done: number) => void): Promise<VerifyReport>
  /**
   * Gives every stored image the variants `options.variants` asks for (images saved before
   * variants were configured), keeping its version and token. Resumable: run it again.
   */
  backfillVariants(options: BackfillOptions): Promise<BackfillReport>
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
  getStats(): Promise<StoreStats>
  /**
   * Resolves once every store answers (the metadata store reads a row, the blob store's
   * bucket or folder can be used): for readiness probes. Waits at most the stores' own
   * timeouts.
   *
   * @throws PixstoreError `STORAGE_FAILED` naming the store that cannot be reached.
   */
  ready(): Promise<void>
  /** Waits for the removal of replaced versions' blobs under way, stops recording this instance and closes its stores. */
  close(): Promise<void>
}

// The serving core of each backend made here: the HTTP handlers ask it for answers read in
// one buffer after room for the header, which the public serveImage does not offer.
const servingCores = new WeakMap<PixstoreBackend, ReturnType<typeof createServing>>()

/** The serving core of a backend made by this module, or `undefined` for any other object. */
export const servingCore = (backend: PixstoreBackend) => servingCores.get(backend)

/** The stores of a configuration: the ones given, else the embedded pair in `dataDir`. */
function openStores(config: ResolvedBackendConfig, legacyCheck: boolean) {
  if (!config.metadataStore && legacyCheck) refuseUnimportedLegacyData(config.dataDir, config.legacyData)
  if (!config.metadataStore || !config.blobStore) {
    try {
      fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
    } catch (cause) {
      throw new PixstoreError('STORAGE_FAILED', `Could not create the data directory ${config.dataDir}`, { cause })
    }
  }
  const embedded = config.metadataStore ? undefined : createEmbeddedStores({ dataDir: config.dataDir, inlineMaxBytes: config.inlineImageMaxBytes })
  const metadata: MetadataStore = config.metadataStore ?? embedded!.metadata
  const blobs: BlobStore = config.blobStore ?? embedded?.blobs ?? createFilesystemBlobStore({ dir: path.join(config.dataDir, 'images') })
  if (config.fileDelivery && !blobs.filePath) {
    throw new PixstoreError('INVALID_CONFIG', 'fileDelivery needs a blob store that keeps files (the embedded store or createFilesystemBlobStore)')
  }
  return { metadata, blobs, embedded }
}

/**
 * Creates a backend instance, without starting any HTTP endpoint: on the embedded stores
 * (SQLite and files under `dataDir`) by default, or on the stores given. Its methods throw;
 * apps that want the seed's `null`-returning functions call `initPixstoreBackend` instead.
 *
 * @throws PixstoreError `INVALID_CONFIG` for a bad option, `STORAGE_FAILED` if the data
 * directory cannot be used, `MISSING_DEPENDENCY` for a store whose package is missing.
 * @example
 * ```ts
 * const images = createPixstoreBackend({ dataDir: './data/images' })
 * const record = await images.saveImage(bytes, { id: 'player-42' })
 * ```
 */
export function createPixstoreBackend(config?: PixstoreBackendConfig): PixstoreBackend {
  return openBackend(config, 'createPixstoreBackend')
}

/**
 * {@link createPixstoreBackend}, naming `where` in configuration errors. `legacyCheck:
 * false` opens an empty data directory beside pixstore 3.x data (for the import itself).
 */
export function openBackend(config: PixstoreBackendConfig | undefined, where: string, { legacyCheck = true } = {}): PixstoreBackend {
  const resolved = resolveBackendConfig(ownProperties(config), where)
  const { metadata, blobs, embedded } = openStores(resolved, legacyCheck)
  let keys: InstanceKeys
  try {
    keys = createInstanceKeys({
      dataDir: resolved.dataDir,
      masterKeys: resolved.masterKeys,
      proofSecrets: resolved.statelessProofSecret,
      proofWindowMs: resolved.statelessKeyWindowLength,
      keyIdsInUse: () => embedded?.metadata.keyIdsInUseSync() ?? [],
    })
  } catch (error) {
    void embedded?.metadata.close()
    throw error
  }
  const beat = startInstanceBeat(metadata, keys, resolved.statelessKeyWindowLength)
  const records = createRecords(metadata, keys)
  const events = createEvents(resolved.onEvent)
  const writer = createWriter({ config: resolved, metadata, blobs, keys, events, toRecord: (image) => records.toRecord(image) })
  // Reads find a blob where it is: inline in the metadata store, or in the blob store.
  const stored = storedBlobs(metadata, blobs)
  const serving = createServing(
    metadata,
    stored,
    keys.signer,
    records.dataKeyOf,
    events.enabled
      ? (id, served, t) =>
          events.emit({ type: 'serve', id, state: served.state, bytes: payloadLength(served), durationMs: t.durationMs, metadataMs: t.storesMs - t.blobMs, blobMs: t.blobMs })
      : undefined,
    resolved.fileDelivery !== undefined,
  )
  const maintenance = createMaintenance({ metadata, blobs: stored, keys, beat, dataKeyOf: records.dataKeyOf, formats: resolved.formats })

  const backend: PixstoreBackend = {
    config: resolved,
    secretSource: keys.secretSource,
    masterKeySource: keys.masterKeySource,
    saveImage: (image, target) => writer.save(image, target),
    updateImage: (id, image, options) => writer.update(id, image, options),
    saveImageFromFile: (file, target) => writer.saveFromFile(file, target),
    updateImageFromFile: (id, file, options) => writer.updateFromFile(id, file, options),
    deleteImage: (id) => writer.remove(id),
    imageExists: (id) => writer.exists(id),
    getImageRecord: (id, options) => records.getSync(id, options),
    getImageRecordAsync: (id, options) => records.get(id, options),
    getImageRecords: (ids, options) => records.getManySync(ids, options),
    getImageRecordsAsync: (ids, options) => records.getMany(ids, options),
    serveImage(imageId, clientToken, proof, options) {
      const { stream, locate, variant } = ownProperties(options ?? {})
      return serving.serve(imageId, clientToken, proof, { stream, locate, variant })
    },
    redirects: serving.canLocate,
    async customEndpointHelper(imageId, clientToken, statelessProof, options) {
      // One buffer is wanted here: the image is read whole, after room for the header.
      const token = parseClientToken(clientToken)
      const variant = ownProperties(options)?.variant
      return encodeServedWhole(
        await serving.serve(imageId, token, statelessProof, { stream: false, variant, headerRoom: headerLengthFor(token, variant) }),
      )
    },
    verify: (onProgress) => maintenance.verify(onProgress),
    backfillVariants: (options) =>
      backfillVariants(
        { metadata, blobs, stored, dataKeyOf: records.dataKeyOf, imageMaxPixels: resolved.imageMaxPixels },
        ownProperties(options),
      ),
    gc: (options) => maintenance.gc(ownProperties(options ?? {})),
    rotateMasterKey: (options) => maintenance.rotateMasterKey(ownProperties(options ?? {})),
    liveInstances: () => maintenance.liveInstances(),
    getStats: () => maintenance.stats(),
    async ready() {
      try {
        await metadata.list(undefined, 1)
      } catch (cause) {
        throw new PixstoreError('STORAGE_FAILED', `The metadata store cannot be reached: ${(cause as Error).message}`, { cause })
      }
      await blobs.check?.()
    },
    async close() {
      try {
        await beat.stop()
      } finally {
        await writer.settled()
        await Promise.all([metadata.close(), blobs.close()])
      }
    },
  }
  servingCores.set(backend, serving)
  return backend
}
