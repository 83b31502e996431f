import type { BodyPart } from '../body-parts.js'
import { servingCore, type PixstoreBackend } from '../pixstore-backend.js'
import { CIPHERTEXT_TYPE } from '../../shared/wire.js'
import { encodeServedParts, headerLengthFor, parseClientToken } from './payload.js'

/** A transport-neutral HTTP answer; the web and node handlers turn it into their own response. */
export interface HttpAnswer {
  status: number
  headers: Record<string, string>
  /** Body parts to send in order, bytes or streams of bytes; empty for no body. */
  body: BodyPart[]
}

/** The parts of a request the image route reads. */
export interface ImageRequest {
  method: string
  /** The request target's path, still percent-encoded. */
  pathname: string
  /** Reads a request header (lower-case name) or `undefined`. */
  header(name: string): string | undefined
  /** Reads a query parameter or `undefined`. */
  query(name: string): string | undefined
}

const text = (status: number, message: string, headers: Record<string, string>): HttpAnswer => ({
  status,
  headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
  body: [new TextEncoder().encode(message)],
})

/** Whether `pathname` is the image route or below it, the paths the handlers answer. */
export function isImageRoutePath(pathname: string, route: string): boolean {
  return pathname === route || pathname.startsWith(`${route}/`)
}

/**
 * Answers a request to `GET {route}/:id`. Every well-formed request gets 200 with a
 * binary payload; a wrong method gets 405, a path outside the route 404, and a path that
 * is not valid percent-encoding 400. `allocate`, when given, gives the buffers images are
 * read into (the node handler's, which it uses again once they are sent).
 */
export async function answerImageRequest(backend: PixstoreBackend, request: ImageRequest, allocate?: (length: number) => Uint8Array): Promise<HttpAnswer> {
  const { defaultEndpointRoute: route, accessControlAllowOrigin } = backend.config
  const cors: Record<string, string> = { 'Access-Control-Allow-Origin': accessControlAllowOrigin }
  if (accessControlAllowOrigin !== '*') cors.Vary = 'Origin'
  const method = request.method.toUpperCase()

  if (!isImageRoutePath(request.pathname, route)) return text(404, 'Not found', cors)
  if (method === 'OPTIONS') {
    return {
      status: 204,
      headers: {
        ...cors,
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': 'x-pixstore-proof, x-pixstore-token, x-pixstore-redirect, x-pixstore-variant',
        'Access-Control-Max-Age': '86400',
      },
      body: [],
    }
  }
  if (method !== 'GET' && method !== 'HEAD') return text(405, 'Method not allowed', { ...cors, Allow: 'GET, HEAD, OPTIONS' })

  let id: string
  try {
    id = decodeURIComponent(request.pathname.slice(route.length + 1))
  } catch {
    return text(400, 'Malformed image id', cors)
  }
  const proofHeader = request.header('x-pixstore-proof')
  const proof = proofHeader ?? request.query('proof')
  const token = request.header('x-pixstore-token') ?? request.query('token')
  // Redirect delivery: a client that can follow a redirect says so. It gets one only with
  // the proof in the query string: with it in headers, the browser would send them on to
  // the object store, which costs a CORS preflight there; such a client is told instead.
  const { fileDelivery } = backend.config
  const follows = (backend.redirects || fileDelivery !== undefined) && (request.query('redirect') === '1' || request.header('x-pixstore-redirect') === '1')
  const clientToken = parseClientToken(token)
  const variant = request.header('x-pixstore-variant') ?? request.query('variant')
  // A HEAD is never redirected: a URL presigned for GET would refuse it. A file the web
  // server sends needs no proof in the query: the browser never leaves this origin.
  const locate = follows && (proofHeader === undefined || fileDelivery !== undefined) && method === 'GET'
  // An image that is not streamed is read after room for its header, and sent in one write.
  const core = servingCore(backend)
  const served = core
    ? await core.serve(id, clientToken, proof, { locate, variant, allocate, headerRoom: method === 'GET' ? headerLengthFor(clientToken, variant) : undefined })
    : await backend.serveImage(id, clientToken, proof, { locate, variant })
  if (served.state === 'located') {
    return { status: 302, headers: { ...cors, Location: served.url, 'Cache-Control': 'no-store' }, body: [] }
  }
  if (served.state === 'file' && fileDelivery) {
    // The web server answers with the file, keeping this type and Cache-Control (nginx drops
    // the other headers): the type tells the client the body is the bare ciphertext.
    const value = fileDelivery.header === 'X-Sendfile' ? served.path : `${fileDelivery.prefix}${served.relativePath}`
    return {
      status: 200,
      headers: { ...cors, [fileDelivery.header]: value, 'Content-Type': CIPHERTEXT_TYPE, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' },
      body: [],
    }
  }
  // Marked as the route's own payload, so that a client can tell it from an object's bare
  // ciphertext whatever redirects led to it.
  const marks: Record<string, string> = follows
    ? { 'X-Pixstore-Payload': '1', 'X-Pixstore-Delivery': 'redirect', 'Access-Control-Expose-Headers': 'X-Pixstore-Payload, X-Pixstore-Delivery' }
    : { 'X-Pixstore-Payload': '1', 'Access-Control-Expose-Headers': 'X-Pixstore-Payload' }
  const { parts, length } = encodeServedParts(served)
  if (method === 'HEAD') for (const part of parts) if (!(part instanceof Uint8Array)) await closeStream(part)
  return {
    status: 200,
    headers: {
      ...cors,
      ...marks,
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(length),
      // Payloads can carry key material and change on every update: never cache them.
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    },
    body: method === 'HEAD' ? [] : parts,
  }
}

/**
 * Closes a stream that will not be read to its end, so that its file or connection is
 * released. A Node stream is destroyed: asking a fresh iterator to return would not
 * reach a stream that was never read.
 */
export async function closeStream(stream: AsyncIterable<Uint8Array>): Promise<void> {
  const destroy = (stream as { destroy?: () => void }).destroy
  if (typeof destroy === 'function') destroy.call(stream)
  else await stream[Symbol.asyncIterator]().return?.()
}
