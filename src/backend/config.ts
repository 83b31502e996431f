import path from 'node:path'
import { refuseReportingOptions, type ErrorReportingOptions } from '../shared/error-handling.js'
import type { FormatTable } from '../shared/image-format.js'
import { isValidRoute, ownProperties, rejectUnknownOptions, requireOption } from '../shared/options.js'
import type { PixstoreEvent } from './events.js'
import { resolveLegacyOptions, type LegacyBackendOptions, type LegacyLocations } from './legacy-config.js'
import type { BlobStore } from './stores/blob-store.js'
import type { MetadataStore } from './stores/metadata-store.js'
import { checkStoreOptions, resolveFileDelivery, type FileDelivery } from './store-options.js'
import { assertSharpInstalled } from './variants/make.js'
import { resolveVariantOptions, type ResolvedVariants, type VariantOptions } from './variants/options.js'

/** Options of `initPixstoreBackend` and `createPixstoreBackend`. Every one has a safe default. */
export interface PixstoreBackendConfig extends LegacyBackendOptions {
  /** Folder of the embedded store: SQLite metadata, encrypted image files, generated secrets. Default `./pixstore-data`. */
  dataDir?: string
  /** Largest image accepted, in bytes, checked before any other work. Default 25 MiB. */
  imageMaxBytes?: number
  /**
   * Largest image accepted, in pixels (width × height read from its header), against
   * decompression bombs in apps that later decode the images. Default 40 000 000.
   */
  imageMaxPixels?: number
  /**
   * Keep every metadata block of saved images. By default EXIF (but the orientation), XMP,
   * IPTC, comments and text chunks are removed on save, so that a photo's GPS position,
   * camera serial and time never reach its viewers; the ICC profile and the orientation
   * stay. The stored image is then the one without them. Default `false`.
   */
  keepMetadata?: boolean
  /**
   * On the embedded store, encrypted images up to this many bytes are kept inside the
   * SQLite file and committed with their metadata in one durable write; larger ones are
   * files under `dataDir/images`. 0 keeps every image in a file. Default 256 KiB.
   */
  inlineImageMaxBytes?: number
  /**
   * Master keys that wrap the per-image keys, each `id:base64` with a 32-byte key; the
   * first wraps new keys, all unwrap. Default: `PIXSTORE_MASTER_KEY` (comma-separated),
   * else a key generated once into `dataDir/master-keys` (with a warning: production
   * should supply it, and keep it apart from backups of the data directory).
   */
  masterKeys?: string | readonly string[]
  /**
   * Proof window in ms: a proof is valid for at least this long and at most twice it.
   * Default 20000. `-1` makes proofs never expire: anyone who once saw a record can fetch
   * that image for as long as the secret lives, so use it only for trusted tools.
   */
  statelessKeyWindowLength?: number
  /**
   * Proof secret(s), each at least 32 characters; the first signs, all verify (list a
   * rotated-out secret after the new one for a while). Default: `PIXSTORE_PROOF_SECRET`
   * (comma-separated), else a secret generated once into `dataDir/proof-secret`.
   */
  statelessProofSecret?: string | readonly string[]
  /** Start the built-in HTTP endpoint. Default `true`. */
  defaultEndpointEnabled?: boolean
  /** Host the built-in endpoint listens on. Default `127.0.0.1`. */
  defaultEndpointListenHost?: string
  /** Port the built-in endpoint listens on (0 picks a free one). Default `3001`. */
  defaultEndpointListenPort?: number
  /**
   * Built-in endpoint: a client must send its whole request head within this many ms, or
   * it is disconnected (against slow-header clients holding connections). Default 10000.
   */
  defaultEndpointHeadersTimeoutMs?: number
  /** Built-in endpoint: a whole request must arrive within this many ms. Default 30000. */
  defaultEndpointRequestTimeoutMs?: number
  /** Built-in endpoint: an idle keep-alive connection is closed after this many ms. Default 5000. */
  defaultEndpointIdleTimeoutMs?: number
  /**
   * Built-in endpoint: a connection on which nothing moves for this many ms (a client that
   * stopped reading its image, say) is closed, and the file it was sent is released. Default 30000.
   */
  defaultEndpointWriteTimeoutMs?: number
  /** Built-in endpoint: most connections open at once; more are refused. Default 1000. */
  defaultEndpointMaxConnections?: number
  /** Route of the image endpoint, also used by the exported handlers. Default `/pixstore-image`. */
  defaultEndpointRoute?: string
  /** `Access-Control-Allow-Origin` of the image route. Default `*` (proofs, not origins, guard images). */
  accessControlAllowOrigin?: string
  /**
   * Where image metadata lives. Default: the embedded SQLite store in `dataDir`. For
   * several instances, `createPostgresMetadataStore(...)`; then the proof secret and the
   * master keys must come from configuration, shared by every instance.
   */
  metadataStore?: MetadataStore
  /** Where encrypted images live. Default: files under `dataDir/images`. For several instances, `createS3BlobStore(...)`. */
  blobStore?: BlobStore
  /**
   * Behind nginx (`{ header: 'X-Accel-Redirect', prefix }`) or a server with `X-Sendfile`:
   * the image route answers a client that holds an image's current version with that
   * header, and the web server sends the encrypted file itself. Files only (the embedded
   * store or `createFilesystemBlobStore`). Default: off. See docs/scaling.md.
   */
  fileDelivery?: FileDelivery
  /**
   * Called with every image request this instance answers and every save, update and
   * delete, with its outcome and timings: feed it to Prometheus or OpenTelemetry. Called
   * synchronously: keep it quick. What it throws is logged once and otherwise ignored.
   */
  onEvent?: (event: PixstoreEvent) => void
  /**
   * Smaller copies of every image to make at save time, each encrypted under its own key,
   * with a ThumbHash placeholder; the frontend then loads the size it shows. Needs the
   * optional peer dependency `sharp`. Default: none. See docs/responsive-images.md.
   */
  variants?: VariantOptions
}

/**
 * Options of `initPixstoreBackend`: those of an instance, and how the seed-style module
 * functions of the default instance report errors (instances always throw).
 */
export interface PixstoreBackendInitConfig extends PixstoreBackendConfig, ErrorReportingOptions {}

/** The configuration with every default filled in. */
export interface ResolvedBackendConfig {
  dataDir: string
  /** The accepted formats and their bytes. */
  formats: FormatTable
  /** Where a pixstore 3.x data set may be, from the 3.x options or their defaults. */
  legacyData: LegacyLocations
  imageMaxBytes: number
  imageMaxPixels: number
  inlineImageMaxBytes: number
  keepMetadata: boolean
  masterKeys: readonly string[] | undefined
  metadataStore: MetadataStore | undefined
  blobStore: BlobStore | undefined
  fileDelivery: FileDelivery | undefined
  onEvent: ((event: PixstoreEvent) => void) | undefined
  variants: ResolvedVariants | undefined
  statelessKeyWindowLength: number
  statelessProofSecret: readonly string[] | undefined
  defaultEndpointEnabled: boolean
  defaultEndpointListenHost: string
  defaultEndpointListenPort: number
  defaultEndpointRoute: string
  defaultEndpointHeadersTimeoutMs: number
  defaultEndpointRequestTimeoutMs: number
  defaultEndpointIdleTimeoutMs: number
  defaultEndpointWriteTimeoutMs: number
  defaultEndpointMaxConnections: number
  accessControlAllowOrigin: string
}

const defaults = {
  dataDir: './pixstore-data',
  imageMaxBytes: 25 * 1024 * 1024,
  imageMaxPixels: 40_000_000,
  inlineImageMaxBytes: 256 * 1024,
  keepMetadata: false,
  statelessKeyWindowLength: 20_000,
  defaultEndpointEnabled: true,
  defaultEndpointListenHost: '127.0.0.1',
  defaultEndpointListenPort: 3001,
  defaultEndpointRoute: '/pixstore-image',
  defaultEndpointHeadersTimeoutMs: 10_000,
  defaultEndpointRequestTimeoutMs: 30_000,
  defaultEndpointIdleTimeoutMs: 5_000,
  defaultEndpointWriteTimeoutMs: 30_000,
  defaultEndpointMaxConnections: 1000,
  accessControlAllowOrigin: '*',
} as const

const optionNames = [...Object.keys(defaults), 'statelessProofSecret', 'masterKeys', 'metadataStore', 'blobStore', 'fileDelivery', 'onEvent', 'variants', 'imageFormats', 'imageRootDir', 'databasePath']

/**
 * Fills in defaults and validates every option, including the secret policy of shared stores.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming the option.
 */
export function resolveBackendConfig(given: PixstoreBackendConfig = {}, where = 'createPixstoreBackend'): ResolvedBackendConfig {
  requireOption(typeof given === 'object' && given !== null, where, 'config', 'must be an object')
  const config = ownProperties(given)
  refuseReportingOptions(config, where, 'initPixstoreBackend')
  rejectUnknownOptions(config, optionNames, where)
  const { imageFormats, imageRootDir, databasePath, ...current } = stripUndefined(config)
  const c = { ...defaults, ...current }
  const legacy = resolveLegacyOptions({ imageFormats, imageRootDir, databasePath }, current.dataDir, where)
  c.dataDir = legacy.dataDir ?? c.dataDir
  requireOption(typeof c.dataDir === 'string' && c.dataDir.length > 0, where, 'dataDir', 'must be a non-empty path')
  requireOption(
    Number.isSafeInteger(c.imageMaxBytes) && c.imageMaxBytes > 0,
    where,
    'imageMaxBytes',
    'must be a positive whole number of bytes',
  )
  requireOption(
    Number.isSafeInteger(c.imageMaxPixels) && c.imageMaxPixels > 0,
    where,
    'imageMaxPixels',
    'must be a positive whole number of pixels',
  )
  requireOption(
    Number.isSafeInteger(c.inlineImageMaxBytes) && c.inlineImageMaxBytes >= 0 && c.inlineImageMaxBytes <= 16 * 1024 * 1024,
    where,
    'inlineImageMaxBytes',
    'must be a whole number of bytes from 0 to 16 MiB',
  )
  requireOption(
    c.statelessKeyWindowLength === -1 || (Number.isSafeInteger(c.statelessKeyWindowLength) && c.statelessKeyWindowLength > 0),
    where,
    'statelessKeyWindowLength',
    'must be a positive whole number of milliseconds, or -1 for proofs that never expire',
  )
  requireOption(typeof c.defaultEndpointEnabled === 'boolean', where, 'defaultEndpointEnabled', 'must be true or false')
  requireOption(typeof c.keepMetadata === 'boolean', where, 'keepMetadata', 'must be true or false')
  requireOption(
    typeof c.defaultEndpointListenHost === 'string' && c.defaultEndpointListenHost.length > 0,
    where,
    'defaultEndpointListenHost',
    'must be a host name or address',
  )
  requireOption(
    Number.isInteger(c.defaultEndpointListenPort) && c.defaultEndpointListenPort >= 0 && c.defaultEndpointListenPort <= 65535,
    where,
    'defaultEndpointListenPort',
    'must be a port number from 0 to 65535',
  )
  requireOption(isValidRoute(c.defaultEndpointRoute), where, 'defaultEndpointRoute', 'must be a path such as "/pixstore-image"')
  for (const name of [
    'defaultEndpointHeadersTimeoutMs',
    'defaultEndpointRequestTimeoutMs',
    'defaultEndpointIdleTimeoutMs',
    'defaultEndpointWriteTimeoutMs',
    'defaultEndpointMaxConnections',
  ] as const) {
    requireOption(Number.isSafeInteger(c[name]) && c[name] > 0, where, name, 'must be a positive whole number')
  }
  requireOption(
    c.defaultEndpointHeadersTimeoutMs <= c.defaultEndpointRequestTimeoutMs,
    where,
    'defaultEndpointHeadersTimeoutMs',
    'must not exceed defaultEndpointRequestTimeoutMs',
  )
  requireOption(
    typeof c.accessControlAllowOrigin === 'string' && !/[\r\n]/.test(c.accessControlAllowOrigin),
    where,
    'accessControlAllowOrigin',
    'must be an origin or "*"',
  )
  let secrets: readonly string[] | undefined
  if (config.statelessProofSecret !== undefined) {
    secrets = typeof config.statelessProofSecret === 'string' ? [config.statelessProofSecret] : config.statelessProofSecret
    requireOption(
      Array.isArray(secrets) && secrets.length > 0 && secrets.every((s) => typeof s === 'string' && s.length >= 32),
      where,
      'statelessProofSecret',
      'must be a string of at least 32 characters, or a non-empty list of them',
    )
  }
  let masterKeys: readonly string[] | undefined
  if (config.masterKeys !== undefined) {
    masterKeys = typeof config.masterKeys === 'string' ? [config.masterKeys] : config.masterKeys
    requireOption(
      Array.isArray(masterKeys) && masterKeys.length > 0 && masterKeys.every((k) => typeof k === 'string'),
      where,
      'masterKeys',
      'must be an "id:base64" string or a non-empty list of them',
    )
  }
  checkStoreOptions(config, secrets, masterKeys, where)
  requireOption(config.onEvent === undefined || typeof config.onEvent === 'function', where, 'onEvent', 'must be a function')
  const variants = resolveVariantOptions(config.variants, where, 'INVALID_CONFIG') || undefined
  if (variants) assertSharpInstalled()
  return {
    ...c,
    variants,
    onEvent: config.onEvent,
    formats: legacy.formats,
    legacyData: legacy.locations,
    metadataStore: config.metadataStore,
    blobStore: config.blobStore,
    fileDelivery: resolveFileDelivery(config.fileDelivery, where),
    dataDir: path.resolve(c.dataDir),
    statelessProofSecret: secrets,
    masterKeys,
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
