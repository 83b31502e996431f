import type { PixstoreBackend } from '../pixstore-backend.js'
import { answerImageRequest } from './answer.js'

/** A web-standard request handler, for Hono, Next.js route handlers, Deno-style servers and the like. */
export type PixstoreRequestHandler = (request: Request) => Promise<Response>

/** Creates the web-standard handler of the image route for `backend`. */
export function createWebHandler(backend: PixstoreBackend): PixstoreRequestHandler {
  return async (request) => {
    const url = new URL(request.url)
    const answer = await answerImageRequest(backend, {
      method: request.method,
      pathname: url.pathname,
      header: (name) => request.headers.get(name) ?? undefined,
      query: (name) => url.searchParams.get(name) ?? undefined,
    })
    const body = answer.body.length === 0 ? null : new Blob(answer.body as Uint8Array<ArrayBuffer>[])
    return new Response(body, { status: answer.status, headers: answer.headers })
  }
}
