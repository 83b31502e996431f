import { PixstoreError } from '../shared/errors.js'
import type { ImageFetcher } from '../types/index.js'
import { imageUrl, isSameOrigin, type ResolvedFrontendConfig } from './config.js'

export type { ImageFetcher } from '../types/index.js'

/**
 * The default fetcher: `GET {route}/:id` with the proof and token in `x-pixstore-*` headers
 * on the page's own origin, and as query parameters on another (so that a cross-origin
 * request needs no preflight), unless `proofTransport` says otherwise.
 */
export function createDefaultFetcher(config: () => ResolvedFrontendConfig): ImageFetcher {
  return async (record, _context, signal) => {
    const { proofTransport } = config()
    const base = imageUrl(config(), record.id)
    const inQuery = proofTransport === 'query' || (proofTransport === 'auto' && !isSameOrigin(base))
    const url = inQuery ? `${base}?proof=${encodeURIComponent(record.statelessProof)}&token=${record.token}` : base
    let response: Response
    try {
      response = await fetch(url, {
        headers: inQuery ? undefined : { 'x-pixstore-proof': record.statelessProof, 'x-pixstore-token': String(record.token) },
        cache: 'no-store',
        signal,
      })
    } catch (cause) {
      if (signal?.aborted) throw signal.reason
      throw new PixstoreError('FETCH_FAILED', `Fetching image "${record.id}" failed: the network request did not complete`, { cause })
    }
    if (!response.ok) {
      throw new PixstoreError('FETCH_FAILED', `Fetching image "${record.id}" failed with HTTP status ${response.status}`)
    }
    try {
      return new Uint8Array(await response.arrayBuffer())
    } catch (cause) {
      if (signal?.aborted) throw signal.reason
      throw new PixstoreError('FETCH_FAILED', `Fetching image "${record.id}" failed while reading the response`, { cause })
    }
  }
}
