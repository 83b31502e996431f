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
      for (const part of answer.body) res.write(part)
      res.end()
    } catch (error) {
      if (next) return next(error)
      console.error(`[pixstore] image route failed: ${error instanceof Error ? error.message : String(error)}`)
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('Internal error')
    }
  }
}
