import type { IncomingMessage, ServerResponse } from 'node:http'
import type { PixstoreBackend } from '../pixstore-backend.js'
import { answerImageRequest, isImageRoutePath } from './answer.js'

/**
 * A node `(req, res, next?)` handler: works as a node:http request listener and as
 * Express or Connect middleware (requests outside the route go to `next` when given).
 */
export type PixstoreNodeHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => Promise<void>

const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)

/** Writes the parts in order, waiting whenever the socket is full; stops if the client leaves. */
async function send(res: ServerResponse, body: (Uint8Array | AsyncIterable<Uint8Array>)[]): Promise<void> {
  const write = async (chunk: Uint8Array) => {
    if (!res.write(chunk)) await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done)
        res.off('close', done)
        resolve()
      }
      res.on('drain', done)
      res.on('close', done)
    })
  }
  for (const part of body) {
    if (part instanceof Uint8Array) await write(part)
    else {
      // Leaving the loop early (client gone) closes the source stream.
      for await (const chunk of part) {
        if (res.destroyed) break
        await write(chunk)
      }
    }
    if (res.destroyed) return
  }
  res.end()
}

/** Creates the node handler of the image route for `backend`. */
export function createNodeHandler(backend: PixstoreBackend): PixstoreNodeHandler {
  return async (req, res, next) => {
    // Express strips a mount path from `url` but keeps the whole target in `originalUrl`.
    const target = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/'
    let url: URL
    try {
      url = new URL(target, 'http://localhost')
    } catch {
      url = new URL('http://localhost/')
    }
    if (next && !isImageRoutePath(url.pathname, backend.config.defaultEndpointRoute)) return next()
    try {
      const answer = await answerImageRequest(backend, {
        method: req.method ?? 'GET',
        pathname: url.pathname,
        header: (name) => headerValue(req.headers[name]),
        query: (name) => url.searchParams.get(name) ?? undefined,
      })
      res.writeHead(answer.status, answer.headers)
      await send(res, answer.body)
    } catch (error) {
      if (next) return next(error)
      console.error(`[pixstore] image route failed: ${error instanceof Error ? error.message : String(error)}`)
      if (res.headersSent) res.destroy()
      else res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Internal error')
    }
  }
}
