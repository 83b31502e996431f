import { PixstoreError } from '../shared/errors.js'
import { ownProperties } from '../shared/options.js'
import { variantName, type ImageVariant } from '../shared/variants.js'
import { PayloadState, decodePayload } from '../shared/wire.js'
import type { ImageRecord } from '../types/index.js'
import type { CacheAccess } from './cache/cache-access.js'
import type { ResolvedFrontendConfig } from './config.js'
import { decryptToBlob, type DecryptionMeta } from './decrypt.js'
import type { ImageFetcher } from './fetcher.js'
import { parseRecord } from './record.js'
import { decryptVariantToBlob, detectDecodableFormats, pickVariant, pixelRatio, variantCacheKey, widerVariants } from './variants.js'

/** Per-call options of `getImage`. */
export interface GetImageOptions {
  /** Aborts this call with `ABORTED`; the shared request is aborted once every caller waiting on it has aborted. */
  signal?: AbortSignal
  /**
   * Called once when the image route refuses the record's proof (`INVALID_PROOF` or
   * `MISSING_PROOF`), typically to fetch a fresh record from the app's API; the load is then
   * retried with what it returns. Overrides the instance's `refresh`.
   */
  refresh?: RefreshRecord
  /**
   * The width in CSS pixels the image is shown at: the smallest of the record's variants at
   * least `width × devicePixelRatio` pixels wide is loaded, in the best format the browser
   * decodes (AVIF, then WebP, then the original's), else the original. Default: the original.
   */
  width?: number
}

/** An image as loaded: its `Blob`, and the variant it is (`undefined` for the original). */
export interface LoadedImage {
  blob: Blob
  variant: ImageVariant | undefined
}

/** Gives a fresh record for a stale one: usually a call to the app's own API. */
export type RefreshRecord = (stale: ImageRecord) => Promise<ImageRecord>

// One network load per id and token, shared by every caller waiting for it; aborted when
// the last caller with a signal gives up while no caller without one waits.
interface PendingLoad {
  id: string
  promise: Promise<LoadedImage>
  controller: AbortController
  waiters: number
  /** The cache write this load started, if any. */
  write?: Promise<unknown>
}

const abortedError = (id: string) => new PixstoreError('ABORTED', `Loading image "${id}" was aborted`)

/** What a payload's refusal state means to the caller. */
function refusal(state: PayloadState, id: string): PixstoreError {
  switch (state) {
    case PayloadState.NotFound:
      return new PixstoreError('NOT_FOUND', `Image "${id}" does not exist`)
    case PayloadState.MissingID:
      return new PixstoreError('MISSING_ID', 'The image route received no image id')
    case PayloadState.MissingProof:
      return new PixstoreError('MISSING_PROOF', `The request for image "${id}" carried no proof`)
    case PayloadState.InvalidProof:
      return new PixstoreError('INVALID_PROOF', `The proof for image "${id}" is invalid or expired: fetch a fresh record`)
    default:
      return new PixstoreError('SERVER_ERROR', `The server failed to serve image "${id}"`)
  }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** Loading images: from the cache, else fetched and decrypted, one shared load per version. */
export function createLoader(config: ResolvedFrontendConfig, fetcher: ImageFetcher, cache: CacheAccess) {
  const inFlight = new Map<string, PendingLoad>()

  async function fetchAndDecrypt(record: ImageRecord, meta: DecryptionMeta, context: unknown, pending: PendingLoad, variant?: ImageVariant): Promise<LoadedImage> {
    const signal = pending.controller.signal
    // A custom fetcher may ignore the signal: the load still ends on abort and on the timeout.
    const bytes = await untilAborted(fetcher(record, context, signal, variant && { variant: variantName(variant) }), signal)
    signal.throwIfAborted()
    const payload = decodePayload(bytes)
    if (payload.state === PayloadState.Variant) {
      if (!variant) throw new PixstoreError('INVALID_PAYLOAD', `The server answered image "${record.id}" with a variant nobody asked for`)
      const blob = await decryptVariantToBlob(payload.ciphertext, meta.key, variant)
      const key = variantCacheKey(record.id, variant)
      pending.write = cache.track(cache.safely((store) => store.put(key, { token: record.token, ciphertext: payload.ciphertext })))
      return { blob, variant }
    }
    // Otherwise the original: asked for, or the answer to a variant the server could not
    // serve (another version is current) or a fetcher that does not pass variants on.
    if (payload.state !== PayloadState.Success && payload.state !== PayloadState.Updated) {
      if (payload.state === PayloadState.NotFound) await cache.safely((store) => store.delete(record.id))
      throw refusal(payload.state, record.id)
    }
    const fresh = payload.state === PayloadState.Updated
    // Tokens only grow: an older version than the record names is a rollback (a stale
    // replica, a restored copy, a replayed answer), never an update.
    if (fresh && payload.token < record.token) {
      throw new PixstoreError('STALE_PAYLOAD', `The server answered image "${record.id}" with version ${payload.token}, older than the record's ${record.token}`)
    }
    const token = fresh ? payload.token : record.token
    const blob = await decryptToBlob(payload.ciphertext, fresh ? payload : meta, config.formats)
    // The caller has its image now; the cache write goes on behind it.
    pending.write = cache.track(cache.safely((store) => store.put(record.id, { token, ciphertext: payload.ciphertext })))
    return { blob, variant: undefined }
  }

  // The first of `candidates` cached for this version, decrypted, read in one go; a tampered
  // or corrupt entry is dropped (and the next candidate, else the server, answers).
  async function fromCache(record: ImageRecord, candidates: { key: string; decrypt: (ciphertext: Uint8Array) => Promise<Blob>; variant?: ImageVariant }[]) {
    const found = await cache.safely((store) => store.getMany(candidates.map((c) => c.key)))
    for (const [i, cached] of (found ?? []).entries()) {
      if (!cached || cached.token !== record.token) continue
      const candidate = candidates[i]!
      try {
        return { blob: await candidate.decrypt(cached.ciphertext), variant: candidate.variant }
      } catch {
        await cache.safely((store) => store.delete(candidate.key))
      }
    }
    return undefined
  }

  async function load(record: ImageRecord, meta: DecryptionMeta, context: unknown, pending: PendingLoad, variant?: ImageVariant): Promise<LoadedImage> {
    // The variant, else a wider one of the same version already cached, else the original if cached.
    const variants = variant ? [variant, ...widerVariants(record, variant, await preferredFormats())] : []
    const cached = await fromCache(record, [
      ...variants.map((v) => ({ key: variantCacheKey(record.id, v), decrypt: (c: Uint8Array) => decryptVariantToBlob(c, meta.key, v), variant: v })),
      { key: record.id, decrypt: (c: Uint8Array) => decryptToBlob(c, meta, config.formats) },
    ])
    return cached ?? fetchAndDecrypt(record, meta, context, pending, variant)
  }

  // The formats to pick variants in, best first: the configured ones, else what the browser decodes.
  const preferredFormats = () => (config.variantFormats ? Promise.resolve(config.variantFormats) : detectDecodableFormats())

  async function chooseVariant(record: ImageRecord, width: number | undefined): Promise<ImageVariant | undefined> {
    if (width === undefined || !record.variants?.length) return undefined
    return pickVariant(record, width, pixelRatio(), await preferredFormats())
  }

  function startLoad(key: string, record: ImageRecord, meta: DecryptionMeta, context: unknown, variant: ImageVariant | undefined): PendingLoad {
    const controller = new AbortController()
    const { fetchTimeoutMs } = config
    const timer =
      fetchTimeoutMs > 0
        ? setTimeout(() => {
            controller.abort(new PixstoreError('FETCH_FAILED', `Fetching image "${record.id}" timed out after ${fetchTimeoutMs} ms`))
          }, fetchTimeoutMs)
        : undefined
    const forget = () => {
      if (inFlight.get(key) === pending) inFlight.delete(key)
    }
    // Once aborted, later callers start a new load instead of joining this one.
    controller.signal.addEventListener('abort', forget)
    const pending = { id: record.id, controller, waiters: 0 } as PendingLoad
    pending.promise = load(record, meta, context, pending, variant).finally(() => clearTimeout(timer))
    inFlight.set(key, pending)
    // Shared until the load and the cache write it started are both done.
    void pending.promise
      .catch(() => undefined)
      .then(() => pending.write)
      .finally(forget)
    return pending
  }

  function waitFor(pending: PendingLoad, id: string, signal: AbortSignal | undefined): Promise<LoadedImage> {
    pending.waiters++
    if (!signal) return pending.promise
    return new Promise<LoadedImage>((resolve, reject) => {
      const onAbort = () => {
        if (--pending.waiters === 0) pending.controller.abort(abortedError(id))
        reject(abortedError(id))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      pending.promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  return {
    /** The image of `record`, refreshing the record once if its proof is refused. */
    async load(record: ImageRecord, context: unknown, given: GetImageOptions | undefined): Promise<LoadedImage> {
      const options = ownProperties(given)
      const width = options?.width
      if (width !== undefined && !(typeof width === 'number' && Number.isFinite(width) && width > 0)) {
        throw new PixstoreError('INVALID_ARGUMENT', 'getImage: "width" must be a positive number of CSS pixels')
      }
      const once = async (candidate: ImageRecord) => {
        const { record: checked, meta } = parseRecord(candidate)
        const signal = options?.signal
        if (signal?.aborted) throw abortedError(checked.id)
        const variant = await chooseVariant(checked, width)
        const key = `${checked.id}\n${checked.token}${variant ? `\n${variantName(variant)}` : ''}`
        return waitFor(inFlight.get(key) ?? startLoad(key, checked, meta, context, variant), checked.id, signal)
      }
      try {
        return await once(record)
      } catch (error) {
        const refresh = options?.refresh ?? config.refresh
        const refused = error instanceof PixstoreError && (error.code === 'INVALID_PROOF' || error.code === 'MISSING_PROOF')
        if (!refused || !refresh) throw error
        let fresh: ImageRecord
        try {
          fresh = await refresh(record)
        } catch (cause) {
          throw new PixstoreError('INVALID_PROOF', `The proof for image "${record.id}" was refused and refreshing the record failed`, { cause })
        }
        return once(fresh)
      }
    },
    /** Drops every shared load (the instance is closing). */
    abortAll(): void {
      for (const pending of inFlight.values()) pending.controller.abort(abortedError(pending.id))
      inFlight.clear()
    },
  }
}
