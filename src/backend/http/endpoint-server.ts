import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PixstoreError } from '../../shared/errors.js'
import type { PixstoreNodeHandler } from './node-handler.js'

/** The built-in endpoint: a plain node:http server running the node handler. */
export interface EndpointServer {
  /** Resolves with the bound address once listening; rejects with `INVALID_CONFIG` if it cannot listen (port taken, say). */
  listening: Promise<AddressInfo>
  close(): Promise<void>
}

/** Starts the built-in endpoint on `host:port`. */
export function startEndpointServer(handler: PixstoreNodeHandler, host: string, port: number): EndpointServer {
  const server: Server = createServer((req, res) => void handler(req, res))
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
