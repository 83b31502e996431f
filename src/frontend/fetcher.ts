import { PixstoreError } from '../shared/errors.js'
import { CIPHERTEXT_TYPE, PayloadState } from '../shared/wire.js'
import type { ImageFetcher, ImageRecord } from '../types/index.js'
import { imageUrl, isSameOrigin, type ResolvedFrontendConfig } from './config.js'

export type { ImageFetcher } from '../types/index.js'

/**
 * The default fetcher: `GET {route}/:id` with the proof and token in `x-pixstore-*` headers
 * on the page's own origin, and as query parameters on another (so that a cross-origin
 * request needs no preflight), unless `proofTransport` says otherwise.
 *
 * It follows redirect delivery: it tells the route it can follow a redirect, and a
 * redirected answer is the object's bare ciphertext, the image the record describes (a
 * Success payload without its state byte). A route that redirects says so on its first
 * answer; from then on (in `auto`) the proof goes in the query string, with which the
 * browser follows the redirect to the object store without a CORS preflight. An answer a
 * web server in front of the route sent from the file (`fileDelivery`) is the bare
 * ciphertext too, told by its type.
 */
export function createDefaultFetcher(config: () => ResolvedFrontendConfig): ImageFetcher {
  let routeRedirects = false

  async function send(record: ImageRecord, signal: AbortSignal | undefined, follow: boolean, variant: string | undefined): Promise<Response> {
    const { proofTransport } = config()
    const base = imageUrl(config(), record.id)
    const inQuery = proofTransport === 'query' || (proofTransport === 'auto' && (routeRedirects || !isSameOrigin(base)))
    const followFlag = follow && proofTransport !== 'headers'
    const url = inQuery
      ? `${base}?proof=${encodeURIComponent(record.statelessProof)}&token=${record.token}${followFlag ? '&redirect=1' : ''}` +
        (variant === undefined ? '' : `&variant=${encodeURIComponent(variant)}`)
      : base
    const headers: Record<string, string> = {}
    if (!inQuery) {
      headers['x-pixstore-proof'] = record.statelessProof
      headers['x-pixstore-token'] = String(record.token)
      if (followFlag) headers['x-pixstore-redirect'] = '1'
      if (variant !== undefined) headers['x-pixstore-variant'] = variant
    }
    try {
      return await fetch(url, { headers, cache: 'no-store', signal })
    } catch (cause) {
      if (signal?.aborted) throw signal.reason
      throw new PixstoreError('FETCH_FAILED', `Fetching image "${record.id}" failed: the network request did not complete`, { cause })
    }
  }

  return async (record, _context, signal, options) => {
    const variant = options?.variant
    let response: Response
    try {
      response = await send(record, signal, true, variant)
    } catch (error) {
      // A redirect to a bucket that refused the page (no CORS rule there) looks like a
      // network failure: the route is asked once more, to answer itself.
      if (signal?.aborted || config().proofTransport === 'headers') throw error
      response = await send(record, signal, false, variant)
    }
    // Whether the answer came from where the route sent the browser (the object store).
    const fromObject = (answer: Response) => answer.redirected && !fromRoute(answer, record.id, config())
    let object = fromObject(response)
    // A redirect whose object is gone (replaced since) or refused, or a file the web server
    // no longer finds: the route answers itself.
    if (!response.ok && (object || (!response.redirected && response.status === 404))) {
      response = await send(record, signal, false, variant)
      object = fromObject(response)
    }
    if (!response.ok) {
      throw new PixstoreError('FETCH_FAILED', `Fetching image "${record.id}" failed with HTTP status ${response.status}`)
    }
    if (response.headers.get('x-pixstore-delivery') === 'redirect') routeRedirects = true
    let body: Uint8Array
    try {
      body = new Uint8Array(await response.arrayBuffer())
    } catch (cause) {
      if (signal?.aborted) throw signal.reason
      throw new PixstoreError('FETCH_FAILED', `Fetching image "${record.id}" failed while reading the response`, { cause })
    }
    if (!object && response.headers.get('content-type') !== CIPHERTEXT_TYPE) return body
    // The object or file itself: the ciphertext of the version (or of the variant) the record names.
    const payload = new Uint8Array(body.byteLength + 1)
    payload[0] = variant === undefined ? PayloadState.Success : PayloadState.Variant
    payload.set(body, 1)
    return payload
  }
}

/**
 * Whether a redirected response came from the image route itself (after a redirect of its
 * own, to https say), not from the object store: the route marks its payloads, and a 3.x
 * route is recognised by its path.
 */
function fromRoute(response: Response, id: string, config: ResolvedFrontendConfig): boolean {
  return response.headers.has('x-pixstore-payload') || new URL(response.url).pathname.endsWith(`${config.defaultEndpointRoute}/${encodeURIComponent(id)}`)
}
