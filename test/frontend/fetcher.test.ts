import 'fake-indexeddb/auto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createFilesystemBlobStore, createNodeHandler, createPixstoreBackend, createSqliteMetadataStore, type PixstoreBackend } from 'pixstore/backend'
import { createPixstoreFrontend, getImage, initPixstoreFrontend } from 'pixstore/frontend'
import type { ImageRecord } from 'pixstore/types'
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

describe('the default fetcher and redirect delivery', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  const servers: Server[] = []
  const routeRequests: string[] = []
  let objectUrl = ''
  const listen = async (server: Server) => {
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }
  let origin: string
  let objects: string
  beforeAll(async () => {
    const files = createFilesystemBlobStore({ dir: path.join(data.dir, 'images') })
    // A blob store that hands blobs out at `objectUrl` (set by each test), like S3 with `redirect`.
    backend = createPixstoreBackend({
      metadataStore: createSqliteMetadataStore({ file: path.join(data.dir, 'meta.sqlite') }),
      blobStore: { ...files, locate: async (key: string) => `${objectUrl}/${key}` },
    })
    const handler = createNodeHandler(backend)
    origin = await listen(
      createServer((req, res) => {
        routeRequests.push(req.url!)
        void handler(req, res)
      }),
    )
    // Serves each blob's bare ciphertext, as a bucket does.
    objects = await listen(
      createServer((req, res) => {
        void files
          .read(req.url!.slice(1))
          .catch(() => undefined)
          .then((bytes) => (bytes ? res.writeHead(200).end(bytes) : res.writeHead(404).end()))
      }),
    )
  })
  afterAll(async () => {
    for (const server of servers) server.closeAllConnections()
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
    await backend.close()
    data.remove()
  })

  const load = async (record: ImageRecord) => {
    routeRequests.length = 0
    const frontend = createPixstoreFrontend({ defaultEndpointConnectHost: origin, indexedDbName: uniqueDbName() })
    try {
      return await sha256((await frontend.getImage(record))!)
    } finally {
      await frontend.close()
    }
  }

  it('follows the redirect and decrypts the object\'s bare ciphertext', async () => {
    objectUrl = objects
    const record = await backend.saveImage(fixture('sample.png'))
    expect(await load(record)).toBe(await sha256(fixture('sample.png')))
    expect(routeRequests).toHaveLength(1)
    expect(new URL(routeRequests[0]!, origin).searchParams.get('redirect')).toBe('1')
  })

  it('asks the route to answer itself when the object is gone, or its store cannot be reached', async () => {
    const record = await backend.saveImage(fixture('sample.webp'))
    for (const url of [`${objects}/gone`, 'http://127.0.0.1:9']) {
      objectUrl = url
      expect(await load(record)).toBe(await sha256(fixture('sample.webp')))
      expect(routeRequests.map((target) => new URL(target, origin).searchParams.get('redirect'))).toEqual(['1', null])
    }
  })
})
