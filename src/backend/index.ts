import type { AddressInfo } from 'node:net'
import { PixstoreError } from '../shared/errors.js'
import type { ImageRecord } from '../types/index.js'
import { createErrorReporter, splitReporting, type ErrorReporter } from '../shared/error-handling.js'
import type { PixstoreBackendConfig, PixstoreBackendInitConfig } from './config.js'
import { startEndpointServer, type EndpointServer } from './http/endpoint-server.js'
import { createNodeHandler, type PixstoreNodeHandler } from './http/node-handler.js'
import { createWebHandler, type PixstoreRequestHandler } from './http/web-handler.js'
import {
  openBackend,
  type ImageInput,
  type ImageRecordOptions,
  type PixstoreBackend,
  type SaveImageOptions,
  type UpdateImageOptions,
  type EndpointHelperOptions,
} from './pixstore-backend.js'

export { createPixstoreBackend } from './pixstore-backend.js'
export { createPostgresMetadataStore, type PostgresMetadataStoreOptions, type PostgresPool } from './stores/metadata/postgres.js'
export { createS3BlobStore, type S3BlobStoreOptions, type S3ClientLike } from './stores/blob/s3.js'
export { createSqliteMetadataStore, type SqliteMetadataStoreOptions } from './stores/metadata/sqlite.js'
export { createFilesystemBlobStore, type FilesystemBlobStoreOptions } from './stores/blob/filesystem.js'
export type { MetadataStore, StoredImage, ImageVersion, WrappedKey, InlineBlobs } from './stores/metadata-store.js'
export type { BlobStore, BlobStream, BlobInfo } from './stores/blob-store.js'
export type { VerifyReport, VerifyFailure, GcOptions, GcReport, RotationReport, StoreStats } from './maintenance.js'
export type { BackfillOptions, BackfillReport } from './variants/backfill.js'
export { createWebHandler, type PixstoreRequestHandler } from './http/web-handler.js'
export { createNodeHandler, type PixstoreNodeHandler } from './http/node-handler.js'
export type { PixstoreBackend, ImageInput, ImageRecordOptions, SaveImageOptions, UpdateImageOptions, EndpointHelperOptions, ServedImage, ServeOptions } from './pixstore-backend.js'
export type { VariantOptions, VariantFormat } from './variants/options.js'
export type { PixstoreBackendConfig, PixstoreBackendInitConfig, ResolvedBackendConfig } from './config.js'
export type { FileDelivery } from './store-options.js'
export type { SecretSource } from './secret-source.js'
export type { SeenInstance, InstanceInfo } from './stores/metadata-store.js'
export type { RotateOptions } from './maintenance.js'
export type { PixstoreEvent } from './events.js'

/** What `initPixstoreBackend` started. */
export interface PixstoreBackendHandle {
  /** The backend instance behind the module's functions; its methods throw. */
  backend: PixstoreBackend
  /**
   * Resolves with the built-in endpoint's address once it listens, or `null` when it is
   * disabled; rejects with `INVALID_CONFIG` if it cannot listen (the reason is also logged).
   */
  endpoint: Promise<AddressInfo | null>
}

let current: { backend: PixstoreBackend; server: EndpointServer | undefined; reporter: ErrorReporter } | undefined
// Before initPixstoreBackend, calls report NOT_INITIALIZED, which is unexpected: thrown.
const uninitialised = createErrorReporter()

function active(): PixstoreBackend {
  if (!current) throw new PixstoreError('NOT_INITIALIZED', 'Call initPixstoreBackend() before using pixstore/backend')
  return current.backend
}

/** Runs a module function on the default instance, reporting its errors as that instance's options say. */
const run = <T>(action: (backend: PixstoreBackend) => Promise<T>) => (current?.reporter ?? uninitialised).run(async () => action(active()))

/**
 * Sets up Pixstore's backend; call once at start-up. On the embedded default it creates
 * `dataDir` (SQLite metadata, encrypted files, proof secret) and starts the built-in
 * endpoint on `127.0.0.1:3001` unless `defaultEndpointEnabled` is `false`. The module
 * functions (`saveImage`, `getImageRecord`, ...) then act on the instance it made, and
 * report errors as `errorHandlingMode` and `onError` say.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming a bad option, `ALREADY_INITIALIZED` if
 * called twice without {@link closePixstoreBackend}, `STORAGE_FAILED` if `dataDir` is unusable.
 * @example
 * ```ts
 * initPixstoreBackend({ dataDir: './data/images', defaultEndpointEnabled: false })
 * app.use(pixstoreNodeHandler)
 * ```
 */
export function initPixstoreBackend(config?: PixstoreBackendInitConfig): PixstoreBackendHandle {
  if (current) {
    throw new PixstoreError('ALREADY_INITIALIZED', 'initPixstoreBackend() was already called; call closePixstoreBackend() first')
  }
  const { reporting, rest } = splitReporting<PixstoreBackendConfig>(config, 'initPixstoreBackend')
  const backend = openBackend(rest, 'initPixstoreBackend')
  const c = backend.config
  const server = c.defaultEndpointEnabled
    ? startEndpointServer(createNodeHandler(backend), c.defaultEndpointListenHost, c.defaultEndpointListenPort, {
        headersTimeoutMs: c.defaultEndpointHeadersTimeoutMs,
        requestTimeoutMs: c.defaultEndpointRequestTimeoutMs,
        idleTimeoutMs: c.defaultEndpointIdleTimeoutMs,
        writeTimeoutMs: c.defaultEndpointWriteTimeoutMs,
        maxConnections: c.defaultEndpointMaxConnections,
      })
    : undefined
  current = { backend, server, reporter: createErrorReporter(reporting) }
  return { backend, endpoint: server ? server.listening : Promise.resolve(null) }
}

/** Stops the built-in endpoint and closes the stores; `initPixstoreBackend` may then be called again. */
export async function closePixstoreBackend(): Promise<void> {
  const closing = current
  current = undefined
  if (!closing) return
  await closing.server?.close()
  await closing.backend.close()
}

/**
 * Encrypts and stores a new image. `target` is a directory prefix for a generated id
 * (`'avatars'` gives `avatars:<random>`) or `{ id }` for an id the app chooses.
 * Returns the new image's record.
 *
 * Errors (reported per `errorHandlingMode`): `INVALID_IMAGE` (not a PNG, JPEG, WebP, GIF
 * or AVIF; SVG is refused), `TOO_LARGE`, `INVALID_ID`, `ALREADY_EXISTS`, `STORAGE_FAILED`,
 * and `INVALID_ARGUMENT` (not bytes, an unknown option), which throws in the default mode.
 */
export function saveImage(image: ImageInput, target?: string | SaveImageOptions): Promise<ImageRecord | null> {
  return run((backend) => backend.saveImage(image, target))
}

/** Replaces the image `id` with new bytes under a new key and a greater token; returns the new record. Errors as {@link saveImage}, plus `NOT_FOUND`. */
export function updateImage(id: string, image: ImageInput, options?: UpdateImageOptions): Promise<ImageRecord | null> {
  return run((backend) => backend.updateImage(id, image, options))
}

/** {@link saveImage} with the bytes of a regular file, read within `imageMaxBytes`. */
export function saveImageFromFile(file: string, target?: string | SaveImageOptions): Promise<ImageRecord | null> {
  return run((backend) => backend.saveImageFromFile(file, target))
}

/** {@link updateImage} with the bytes of a file. */
export function updateImageFromFile(id: string, file: string, options?: UpdateImageOptions): Promise<ImageRecord | null> {
  return run((backend) => backend.updateImageFromFile(id, file, options))
}

/** Deletes the image `id`; resolves `true` if it existed, `false` if not. */
export function deleteImage(id: string): Promise<boolean | null> {
  return run((backend) => backend.deleteImage(id))
}

/** Whether an image `id` exists. */
export function imageExists(id: string): Promise<boolean | null> {
  return run((backend) => backend.imageExists(id))
}

/**
 * The up-to-date record of image `id`, synchronously, with a fresh proof: return it from
 * your own API. `null` for an image that does not exist. Works on stores with synchronous
 * reads (the embedded default); on others it reports `UNSUPPORTED`, so use
 * {@link getImageRecordAsync} there. `options.issuedAt` mints the proof as if at an
 * earlier time, for tests and demos of expiry.
 */
export function getImageRecord(id: string, options?: ImageRecordOptions): ImageRecord | null {
  return (current?.reporter ?? uninitialised).runSync(() => active().getImageRecord(id, options))
}

/** The awaitable form of {@link getImageRecord}; works on every store. */
export function getImageRecordAsync(id: string, options?: ImageRecordOptions): Promise<ImageRecord | null> {
  return run((backend) => backend.getImageRecordAsync(id, options))
}

/**
 * The records of a page of images (up to 1000 ids) from one read, in the order of `ids`,
 * `null` for each image that does not exist: for list endpoints. Synchronous, on the
 * embedded default like {@link getImageRecord}; {@link getImageRecordsAsync} elsewhere.
 *
 * @example
 * ```ts
 * const records = getImageRecords(players.map((p) => p.id))
 * res.json(players.map((p, i) => ({ ...p, imageRecord: records?.[i] ?? null })))
 * ```
 */
export function getImageRecords(ids: readonly string[], options?: ImageRecordOptions): (ImageRecord | null)[] | null {
  return (current?.reporter ?? uninitialised).runSync(() => active().getImageRecords(ids, options))
}

/** The awaitable form of {@link getImageRecords}; works on every store, in one query on PostgreSQL. */
export function getImageRecordsAsync(ids: readonly string[], options?: ImageRecordOptions): Promise<(ImageRecord | null)[] | null> {
  return run((backend) => backend.getImageRecordsAsync(ids, options))
}

/**
 * The encoded payload for an app's own image route (with its own authentication): pass
 * the id, the client's token and the client's proof (and the variant it asked for, which a
 * custom fetcher receives as its fourth argument); send the bytes as
 * `application/octet-stream` with `Cache-Control: no-store`.
 */
export function customEndpointHelper(imageId: string, clientToken: unknown, statelessProof: unknown, options?: EndpointHelperOptions): Promise<Uint8Array> {
  return active().customEndpointHelper(imageId, clientToken, statelessProof, options)
}

/**
 * The image route as node middleware for node:http, Express and Connect
 * (`app.use(pixstoreNodeHandler)`), serving `GET {route}/:id` of the initialised backend.
 * Under Fastify: `reply.hijack(); pixstoreNodeHandler(request.raw, reply.raw)`.
 */
export const pixstoreNodeHandler: PixstoreNodeHandler = (req, res, next) => createNodeHandler(active())(req, res, next)

/** The image route as a web-standard `(Request) => Promise<Response>` handler of the initialised backend. */
export const pixstoreRequestHandler: PixstoreRequestHandler = (request) => createWebHandler(active())(request)
