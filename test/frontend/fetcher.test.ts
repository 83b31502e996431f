import 'fake-indexeddb/auto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createNodeHandler, createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { createPixstoreFrontend, getImage, initPixstoreFrontend } from 'pixstore/frontend'
import { fixture, sha256, tempDir, uniqueDbName } from '../helpers.js'

describe('the default fetcher', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  let server: Server
  let origin: string
  const seen: IncomingMessage[] = []
  beforeAll(async () => {
    backend = createPixstoreBackend({ dataDir: data.dir })
    const handler = createNodeHandler(backend)
    server = createServer((req, res) => {
      seen.push(req)
      void handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await backend.close()
    data.remove()
  })

  it('sends the proof and token as query parameters, so a cross-origin GET needs no preflight', async () => {
    initPixstoreFrontend({ defaultEndpointConnectHost: origin, indexedDbName: uniqueDbName() })
    const record = (await backend.saveImage(fixture('sample.png')))!
    seen.length = 0
    expect(await sha256((await getImage(record))!)).toBe(await sha256(fixture('sample.png')))
    expect(seen).toHaveLength(1)
    const url = new URL(seen[0]!.url!, origin)
    expect(url.searchParams.get('proof')).toBe(record.statelessProof)
    expect(url.searchParams.get('token')).toBe(String(record.token))
    expect(seen[0]!.headers['x-pixstore-proof']).toBeUndefined()
  })

  it('sends them as x-pixstore-* headers to the page\'s own origin, where no preflight is involved', async () => {
    const location = { origin, protocol: 'http:', hostname: '127.0.0.1' }
    Object.defineProperty(globalThis, 'location', { value: location, configurable: true })
    try {
      initPixstoreFrontend({ defaultEndpointConnectHost: origin, indexedDbName: uniqueDbName() })
      const record = (await backend.saveImage(fixture('sample.png')))!
      seen.length = 0
      expect(await sha256((await getImage(record))!)).toBe(await sha256(fixture('sample.png')))
      expect(seen).toHaveLength(1)
      expect(new URL(seen[0]!.url!, origin).search).toBe('')
      expect(seen[0]!.headers['x-pixstore-proof']).toBe(record.statelessProof)
      // proofTransport: 'query' still forces the query string.
      initPixstoreFrontend({ defaultEndpointConnectHost: origin, indexedDbName: uniqueDbName(), proofTransport: 'query' })
      seen.length = 0
      await getImage(record)
      expect(new URL(seen[0]!.url!, origin).searchParams.get('proof')).toBe(record.statelessProof)
    } finally {
      delete (globalThis as { location?: unknown }).location
    }
  })

  it('sends them as x-pixstore-* headers with proofTransport "headers", for 3.x servers', async () => {
    initPixstoreFrontend({ defaultEndpointConnectHost: origin, indexedDbName: uniqueDbName(), proofTransport: 'headers' })
    const record = (await backend.saveImage(fixture('sample.jpg')))!
    seen.length = 0
    expect(await sha256((await getImage(record))!)).toBe(await sha256(fixture('sample.jpg')))
    expect(seen).toHaveLength(1)
    expect(new URL(seen[0]!.url!, origin).search).toBe('')
    expect(seen[0]!.headers['x-pixstore-proof']).toBe(record.statelessProof)
    expect(seen[0]!.headers['x-pixstore-token']).toBe(String(record.token))
  })

  it('takes a bare host in defaultEndpointConnectHost as pixstore 3.x did (http, the configured port, 3001 by default), warning once', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    try {
      const port = Number(new URL(origin).port)
      initPixstoreFrontend({ defaultEndpointConnectHost: '127.0.0.1', defaultEndpointConnectPort: port, indexedDbName: uniqueDbName() })
      initPixstoreFrontend({ defaultEndpointConnectHost: '127.0.0.1', defaultEndpointConnectPort: port, indexedDbName: uniqueDbName() })
      const record = (await backend.saveImage(fixture('sample.webp')))!
      seen.length = 0
      expect(await sha256((await getImage(record))!)).toBe(await sha256(fixture('sample.webp')))
      expect(seen).toHaveLength(1)
      const warnings = warn.mock.calls.map(([line]) => String(line)).filter((line) => line.includes('bare host'))
      expect(warnings).toEqual([expect.stringContaining(`give an origin instead, such as "http://127.0.0.1:${port}"`)])
      expect(createPixstoreFrontend({ defaultEndpointConnectHost: 'images.internal' }).config).toMatchObject({
        defaultEndpointConnectHost: 'http://images.internal',
        defaultEndpointConnectPort: 3001,
      })
      expect(() => createPixstoreFrontend({ defaultEndpointConnectHost: 'api.example.com/path' })).toThrow(/defaultEndpointConnectHost/)
    } finally {
      warn.mockRestore()
    }
  })
})
