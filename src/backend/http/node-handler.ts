import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BodyPart } from '../body-parts.js'
import type { PixstoreBackend } from '../pixstore-backend.js'
import { answerImageRequest, closeStream, isImageRoutePath } from './answer.js'
import { createBufferPool, type BufferPool } from './buffer-pool.js'

// Free read buffers kept for reuse by one handler: enough for the answers of a busy moment, little at rest.
const POOLED_BYTES = 16 * 1024 * 1024

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

/**
 * Writes the parts in order, waiting whenever the socket is full. A client that leaves
 * (before or during the answer) ends it: nothing more is written or waited for, and every
 * stream not yet sent is closed, so that no file or connection stays open. Each chunk goes
 * back to `pool` once the socket has taken it (chunks that are not the pool's are ignored).
 */
async function send(res: ServerResponse, body: BodyPart[], pool: BufferPool): Promise<void> {
  // The response may have been closed before this point: check the socket itself too.
  const gone = () => res.destroyed || res.writableEnded || !res.socket || res.socket.destroyed
  const write = async (chunk: Uint8Array) => {
    if (res.write(chunk, () => pool.give(chunk)) || gone()) return
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done)
        res.off('close', done)
        resolve()
      }
      res.on('drain', done)
      res.on('close', done)
      if (gone()) done()
    })
  }
  // One buffer (the usual answer): handed to `end` at once, as a plain file server does.
  const [only] = body
  if (body.length === 1 && only instanceof Uint8Array) {
    if (!gone()) res.end(only, () => pool.give(only))
    return
  }
  let next = 0
  try {
    // Leading byte parts go out together in one write.
    res.cork()
    while (next < body.length && body[next] instanceof Uint8Array && !gone()) void write(body[next++] as Uint8Array)
    res.uncork()
    for (; next < body.length && !gone(); next++) {
      const part = body[next]!
      if (part instanceof Uint8Array) await write(part)
      else {
        for await (const chunk of part) {
          if (gone()) break
          await write(chunk)
        }
      }
    }
  } finally {
    for (; next < body.length; next++) {
      const part = body[next]!
      if (!(part instanceof Uint8Array)) await closeStream(part)
    }
  }
  if (!gone()) res.end()
}

/** Creates the node handler of the image route for `backend`. */
export function createNodeHandler(backend: PixstoreBackend): PixstoreNodeHandler {
  const pool = createBufferPool(POOLED_BYTES)
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
      const answer = await answerImageRequest(
        backend,
        {
          method: req.method ?? 'GET',
          pathname: url.pathname,
          header: (name) => headerValue(req.headers[name]),
          query: (name) => url.searchParams.get(name) ?? undefined,
        },
        pool.take,
      )
      res.writeHead(answer.status, answer.headers)
      await send(res, answer.body, pool)
    } catch (error) {
      if (next) return next(error)
      console.error(`[pixstore] image route failed: ${error instanceof Error ? error.message : String(error)}`)
      if (res.headersSent) res.destroy()
      else res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Internal error')
    }
  }
}
