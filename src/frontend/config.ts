import { defaultFormats, formatsFromList, type FormatTable, type ImageFormat, type LegacyImageFormat } from '../shared/image-format.js'
import { parseVariantName } from '../shared/variants.js'
import { warnOnce } from '../shared/log.js'
import { refuseReportingOptions, type ErrorReportingOptions } from '../shared/error-handling.js'
import { isValidRoute, ownProperties, rejectUnknownOptions, requireOption } from '../shared/options.js'
import type { ImageRecord } from '../types/index.js'

/** Options of `initPixstoreFrontend`. Every one has a default; same-origin apps need none. */
export interface PixstoreFrontendConfig {
  /**
   * Origin of the image route, such as `https://api.example.com`; empty (default) for the
   * page's own origin.
   */
  defaultEndpointConnectHost?: string
  /** Port of the image route when it differs from the host's (the default endpoint listens on 3001). Default: none. */
  defaultEndpointConnectPort?: number
  /** Route of the image endpoint. Default `/pixstore-image`. */
  defaultEndpointRoute?: string
  /** Most images kept in the browser cache. Default 1000. */
  frontendImageCacheLimit?: number
  /** Most bytes of ciphertext kept in the browser cache. Default 200 MiB. */
  frontendImageCacheMaxBytes?: number
  /** Name of the IndexedDB database. Default `pixstore`. */
  indexedDbName?: string
  /**
   * How the default fetcher sends the proof and token. `auto` (default): in the
   * `x-pixstore-proof` and `x-pixstore-token` headers to the page's own origin (no preflight
   * is involved there, and headers stay out of access logs), and as `?proof=&token=` to
   * another origin, where headers would cost a CORS preflight per image. `query` and
   * `headers` force one way (`headers` suits pixstore 3.x servers).
   */
  proofTransport?: 'auto' | 'query' | 'headers'
  /** A fetch of the image route that takes longer is aborted with `FETCH_FAILED`, in ms; 0 for none. Default 30000. */
  fetchTimeoutMs?: number
  /**
   * Default `refresh` for every `getImage` and `getImageURL`: given a record whose proof the
   * image route refused, returns a fresh one (from the app's API); the load is retried once.
   */
  refresh?: (stale: ImageRecord) => Promise<ImageRecord>
  /**
   * The formats to load variants in, best first, when `getImage` is given a `width` (the
   * original's own format is always tried last). Default: AVIF and WebP, each where this
   * browser decodes it (found once per page).
   */
  variantFormats?: readonly ImageFormat[]
  /**
   * The pixstore 3.x list of formats, honoured as 3.x did: the format byte i + 1 inside an
   * image is the entry at index i, which types the returned `Blob`. Give it only with the
   * same list as the backend's. Default: Pixstore's formats, with the bytes of 3.x's default list.
   *
   * @deprecated Kept for pixstore 3.x apps; new apps leave it out.
   */
  imageFormats?: readonly LegacyImageFormat[]
  /** @deprecated The pixstore 3.x name of `indexedDbName`, which it sets. */
  frontendDbName?: string
  /** @deprecated pixstore 3.x option, ignored: the cache's schema version is Pixstore's own. */
  frontendDbVersion?: number
  /** @deprecated pixstore 3.x option, ignored: the cache's stores are Pixstore's own. */
  imageStoreName?: string
  /** @deprecated pixstore 3.x option, ignored: eviction runs in the background in batches of its own. */
  frontendCleanupBatch?: number
}

/** pixstore 3.x option names: the replacement each maps to, or what it becomes. */
const legacyOptions: Record<string, { replacement?: keyof PixstoreFrontendConfig; note: string }> = {
  frontendDbName: { replacement: 'indexedDbName', note: 'use "indexedDbName"' },
  frontendDbVersion: { note: 'ignored: the cache schema is versioned by Pixstore; remove it' },
  imageStoreName: { note: 'ignored: the cache stores are named by Pixstore; remove it' },
  frontendCleanupBatch: { note: 'ignored: eviction runs in background batches; remove it' },
}

/**
 * Options of `initPixstoreFrontend`: those of an instance, and how the seed-style module
 * functions of the default instance report errors (instances always throw).
 */
export interface PixstoreFrontendInitConfig extends PixstoreFrontendConfig, ErrorReportingOptions {}

/** The frontend configuration with every default filled in. */
export type ResolvedFrontendConfig = Required<
  Omit<
    PixstoreFrontendConfig,
    'defaultEndpointConnectPort' | 'refresh' | 'variantFormats' | 'imageFormats' | 'frontendDbName' | 'frontendDbVersion' | 'imageStoreName' | 'frontendCleanupBatch'
  >
> & {
  defaultEndpointConnectPort: number | undefined
  refresh: PixstoreFrontendConfig['refresh']
  variantFormats: readonly ImageFormat[] | undefined
  /** The format bytes, from `imageFormats` or Pixstore's own. */
  formats: FormatTable
}

const defaults: ResolvedFrontendConfig = {
  defaultEndpointConnectHost: '',
  defaultEndpointConnectPort: undefined,
  refresh: undefined,
  variantFormats: undefined,
  formats: defaultFormats,
  defaultEndpointRoute: '/pixstore-image',
  frontendImageCacheLimit: 1000,
  frontendImageCacheMaxBytes: 200 * 1024 * 1024,
  indexedDbName: 'pixstore',
  proofTransport: 'auto',
  fetchTimeoutMs: 30_000,
}

// `formats` is what `imageFormats` resolves to, not an option.
const optionNames = [...Object.keys(defaults).filter((name) => name !== 'formats'), 'imageFormats', ...Object.keys(legacyOptions)]

/**
 * Fills in defaults and validates every option.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming the option.
 */
export function resolveFrontendConfig(given: PixstoreFrontendConfig = {}, where = 'createPixstoreFrontend'): ResolvedFrontendConfig {
  requireOption(typeof given === 'object' && given !== null, where, 'config', 'must be an object')
  const config = ownProperties(given)
  refuseReportingOptions(config, where, 'initPixstoreFrontend')
  rejectUnknownOptions(config, optionNames, where)
  const c: ResolvedFrontendConfig = { ...defaults }
  for (const [name, value] of Object.entries(config)) {
    if (value === undefined) continue
    if (name === 'imageFormats') {
      c.formats = formatsFromList(value, where).formats
      warnOnce(
        'legacy-option:imageFormats:frontend',
        `${where}: "imageFormats" is a pixstore 3.x option, honoured as in 3.x (each format byte names the entry at its place in the list; ` +
          "give the backend the same list). Without it, images are typed with Pixstore's formats and the bytes of 3.x's default list",
      )
      continue
    }
    const legacy = legacyOptions[name]
    if (!legacy) {
      Object.assign(c, { [name]: value })
      continue
    }
    // A pixstore 3.x app's config still starts: the option is honoured where Pixstore has
    // an equivalent (and the current name wins when both are given), else accepted and ignored.
    warnOnce(`legacy-option:${name}`, `${where}: "${name}" is a pixstore 3.x option: ${legacy.note}`)
    if (legacy.replacement && config[legacy.replacement] === undefined) Object.assign(c, { [legacy.replacement]: value })
  }
  if (isBareHost(c.defaultEndpointConnectHost)) {
    // The pixstore 3.x form: a host name alone, meaning http on the configured port (3001
    // by default there). Taken as 3.x took it, with a warning naming the origin to write.
    const host = c.defaultEndpointConnectHost
    c.defaultEndpointConnectHost = `http://${host}`
    c.defaultEndpointConnectPort ??= 3001
    warnOnce(
      `bare-host:${host}`,
      `defaultEndpointConnectHost "${host}" is a bare host (the pixstore 3.x form), taken as http://${host}:${c.defaultEndpointConnectPort}; ` +
        `give an origin instead, such as "http://${host}:${c.defaultEndpointConnectPort}"`,
    )
  }
  requireOption(
    c.defaultEndpointConnectHost === '' || isOrigin(c.defaultEndpointConnectHost),
    where,
    'defaultEndpointConnectHost',
    'must be an origin such as "https://api.example.com", or empty for the page\'s own origin',
  )
  requireOption(
    c.defaultEndpointConnectPort === undefined ||
      (Number.isInteger(c.defaultEndpointConnectPort) && c.defaultEndpointConnectPort > 0 && c.defaultEndpointConnectPort <= 65535),
    where,
    'defaultEndpointConnectPort',
    'must be a port number from 1 to 65535',
  )
  requireOption(
    isValidRoute(c.defaultEndpointRoute),
    where,
    'defaultEndpointRoute',
    'must be a path such as "/pixstore-image"',
  )
  requireOption(
    Number.isSafeInteger(c.frontendImageCacheLimit) && c.frontendImageCacheLimit >= 0,
    where,
    'frontendImageCacheLimit',
    'must be a whole number of images (0 turns caching off)',
  )
  requireOption(
    Number.isSafeInteger(c.frontendImageCacheMaxBytes) && c.frontendImageCacheMaxBytes >= 0,
    where,
    'frontendImageCacheMaxBytes',
    'must be a whole number of bytes',
  )
  requireOption(c.refresh === undefined || typeof c.refresh === 'function', where, 'refresh', 'must be a function returning a fresh record')
  requireOption(
    c.variantFormats === undefined || (Array.isArray(c.variantFormats) && c.variantFormats.every((f) => parseVariantName(`1.${String(f)}`))),
    where,
    'variantFormats',
    'must be a list of formats such as ["avif", "webp"]',
  )
  requireOption(['auto', 'query', 'headers'].includes(c.proofTransport), where, 'proofTransport', 'must be "auto", "query" or "headers"')
  requireOption(
    Number.isSafeInteger(c.fetchTimeoutMs) && c.fetchTimeoutMs >= 0,
    where,
    'fetchTimeoutMs',
    'must be a whole number of milliseconds (0 for no timeout)',
  )
  requireOption(typeof c.indexedDbName === 'string' && c.indexedDbName.length > 0, where, 'indexedDbName', 'must be a non-empty name')
  return c
}

/** A host name or IP address with no scheme, as pixstore 3.x took `defaultEndpointConnectHost`. */
function isBareHost(value: unknown): value is string {
  return typeof value === 'string' && (/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(value) || /^\[[0-9A-Fa-f:.]+\]$/.test(value))
}

function isOrigin(value: unknown): boolean {
  if (typeof value !== 'string') return false
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && (url.pathname === '/' || url.pathname === '') && !url.search
  } catch {
    return false
  }
}

/** Whether the image route is on the page's own origin (always so for a relative URL). */
export function isSameOrigin(url: string): boolean {
  if (url.startsWith('/')) return true
  const page = (globalThis as { location?: { origin?: string } }).location?.origin
  return page !== undefined && new URL(url).origin === page
}

/** The URL of image `id` on the configured endpoint. */
export function imageUrl(config: ResolvedFrontendConfig, id: string): string {
  const path = `${config.defaultEndpointRoute}/${encodeURIComponent(id)}`
  const port = config.defaultEndpointConnectPort
  if (config.defaultEndpointConnectHost) {
    const url = new URL(config.defaultEndpointConnectHost)
    if (port !== undefined) url.port = String(port)
    return `${url.origin}${path}`
  }
  if (port === undefined) return path
  return `${location.protocol}//${location.hostname}:${port}${path}`
}
