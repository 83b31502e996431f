import { chunksOf, type BodyPart } from '../body-parts.js'
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
    return new Response(toStream(answer.body), { status: answer.status, headers: answer.headers })
  }
}

function toStream(parts: BodyPart[]): ReadableStream<Uint8Array> | null {
  if (parts.length === 0) return null
  const iterator = chunksOf(parts)
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next()
      if (next.done) controller.close()
      else controller.enqueue(next.value)
    },
    async cancel() {
      await iterator.return(undefined)
    },
  })
}
