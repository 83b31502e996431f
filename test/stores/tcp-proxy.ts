import net from 'node:net'

/** A TCP proxy a test controls, standing between a client and a service. */
export interface TcpProxy {
  port: number
  /** Forwards connections (the default). */
  up(): void
  /** The service is gone: every open connection is cut, new ones are cut at once. */
  down(): void
  /** The service hangs: open connections are cut, new ones are accepted and never answered. */
  stall(): void
  close(): Promise<void>
}

/** Starts a proxy on a free loopback port to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'up' | 'down' | 'stall' = 'up'
  const open = new Set<net.Socket>()
  const track = (socket: net.Socket) => {
    open.add(socket)
    socket.on('close', () => open.delete(socket))
    socket.on('error', () => socket.destroy())
  }
  const server = net.createServer((client) => {
    track(client)
    if (mode === 'down') return client.destroy()
    if (mode === 'stall') return
    const upstream = net.connect(target.port, target.host)
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const cutAll = () => {
    for (const socket of open) socket.destroy()
  }
  return {
    port: (server.address() as net.AddressInfo).port,
    up: () => {
      mode = 'up'
    },
    down: () => {
      mode = 'down'
      cutAll()
    },
    stall: () => {
      mode = 'stall'
      cutAll()
    },
    close: () =>
      new Promise((resolve) => {
        cutAll()
        server.close(() => resolve())
      }),
  }
}
