import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { PixstoreError } from '../../shared/errors.js'
import type { PixstoreNodeHandler } from './node-handler.js'

/** The built-in endpoint: a plain node:http server running the node handler. */
export interface EndpointServer {
  /** Resolves with the bound address once listening; rejects with `INVALID_CONFIG` if it cannot listen (port taken, say). */
  listening: Promise<AddressInfo>
  close(): Promise<void>
}

/** Limits of the built-in endpoint, in ms and connections. */
export interface EndpointLimits {
  headersTimeoutMs: number
  requestTimeoutMs: number
  idleTimeoutMs: number
  writeTimeoutMs: number
  maxConnections: number
}

/**
 * Starts the built-in endpoint on `host:port`. Node's defaults suit a server behind a
 * proxy that guards it; this one may face clients directly, so slow or stalled clients
 * are cut off: they cannot hold connections, and with them open files, for long.
 */
export function startEndpointServer(handler: PixstoreNodeHandler, host: string, port: number, limits: EndpointLimits): EndpointServer {
  const server: Server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      // How often Node looks for requests past their timeouts (its default is 30 s).
      connectionsCheckingInterval: Math.max(250, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    (req, res) => void handler(req, res),
  )
  server.maxConnections = limits.maxConnections
  // A connection on which nothing moves (a client that stopped reading) is closed; the
  // handler then closes the stream it was sending.
  server.setTimeout(limits.writeTimeoutMs, (socket) => socket.destroy())
  // node:http hands CONNECT to a 'connect' listener and drops the connection without one.
  server.on('connect', (_req, socket: Duplex) => {
    socket.on('error', () => undefined)
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, OPTIONS\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
  })
  const listening = new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) => {
      const error = new PixstoreError(
        'INVALID_CONFIG',
        `The Pixstore endpoint could not listen on ${host}:${port} (${cause.code ?? cause.message}): ` +
          'set defaultEndpointListenPort, or defaultEndpointEnabled: false to mount the handler on your own server',
        { cause },
      )
      console.error(`[pixstore] ${error.message}`)
      reject(error)
    })
    server.listen(port, host, () => resolve(server.address() as AddressInfo))
  })
  // The failure is logged above; an app that does not await `listening` must not crash on it.
  listening.catch(() => undefined)
  return {
    listening,
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve()
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
