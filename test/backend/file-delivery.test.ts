import 'fake-indexeddb/auto'
import fs from 'node:fs'
import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeHandler, createPixstoreBackend, type BlobStore, type PixstoreBackend } from 'pixstore/backend'
import { createPixstoreFrontend } from 'pixstore/frontend'
import { samplePicture } from '../../demo/sample-images.js'
import { sha256, tempDir, uniqueDbName } from '../helpers.js'

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('file delivery (fileDelivery: X-Accel-Redirect or X-Sendfile)', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  let route: string
  let front: string
  const servers: Server[] = []
  // What the front server did: files it sent, and X-Accel answers it turned into 404s on purpose.
  const front404 = { next: 0 }
  const sent: string[] = []

  beforeAll(async () => {
    backend = createPixstoreBackend({
      dataDir: data.dir,
      statelessKeyWindowLength: -1,
      inlineImageMaxBytes: 2000,
      fileDelivery: { header: 'X-Accel-Redirect', prefix: '/pixstore-files/' },
    })
    const handler = createNodeHandler(backend)
    const app = createServer((req, res) => void handler(req, res))
    servers.push(app)
    route = await listen(app)
    // A front server that does what nginx does with X-Accel-Redirect: the file from the
    // internal location, with the upstream's Content-Type and Cache-Control only.
    const upstream = new URL(route)
    const frontServer = createServer((req, res) => {
      const forward = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer: IncomingMessage) => {
        const accel = answer.headers['x-accel-redirect']
        if (typeof accel !== 'string') {
          res.writeHead(answer.statusCode!, answer.headers)
          return void answer.pipe(res)
        }
        answer.resume()
        const file = path.join(data.dir, 'images', accel.slice('/pixstore-files/'.length))
        if (front404.next > 0 || !fs.existsSync(file)) {
          front404.next = Math.max(0, front404.next - 1)
          return void res.writeHead(404, { 'Content-Type': 'text/html' }).end('<h1>404</h1>')
        }
        sent.push(accel)
        const bytes = fs.readFileSync(file)
        res.writeHead(200, { 'Content-Type': answer.headers['content-type']!, 'Cache-Control': answer.headers['cache-control']!, 'Content-Length': bytes.length })
        res.end(bytes)
      })
      req.pipe(forward)
    })
    servers.push(frontServer)
    front = await listen(frontServer)
  })
  afterAll(async () => {
    for (const server of servers) server.closeAllConnections()
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
    await backend.close()
    data.remove()
  })

  it('answers a client that holds the current version and follows, with the header naming its file and no body', async () => {
    const image = samplePicture(1, 200)
    const record = await backend.saveImage(image, { id: 'photo' })
    const url = `${route}/pixstore-image/photo?proof=${record.statelessProof}&token=${record.token}`
    const answer = await fetch(`${url}&redirect=1`)
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toBe('application/x-pixstore-ciphertext')
    expect(answer.headers.get('cache-control')).toBe('no-store')
    const accel = answer.headers.get('x-accel-redirect')!
    expect(accel).toMatch(/^\/pixstore-files\/[0-9a-f]{2}\/[0-9a-f]{32}$/)
    expect((await answer.arrayBuffer()).byteLength).toBe(0)
    // The file is the ciphertext of the Success payload, without its state byte.
    const payload = Buffer.from(await backend.customEndpointHelper('photo', record.token, record.statelessProof))
    expect(fs.readFileSync(path.join(data.dir, 'images', accel.slice('/pixstore-files/'.length))).equals(payload.subarray(1))).toBe(true)
    // Without the flag, with another version's token, or for HEAD: the route answers itself.
    expect((await fetch(url)).headers.get('x-accel-redirect')).toBeNull()
    const stale = await fetch(`${route}/pixstore-image/photo?proof=${record.statelessProof}&token=1&redirect=1`)
    expect(stale.headers.get('x-accel-redirect')).toBeNull()
    expect(Buffer.from(await stale.arrayBuffer())[0]).toBe(1)
    expect((await fetch(`${url}&redirect=1`, { method: 'HEAD' })).headers.get('x-accel-redirect')).toBeNull()
    // An image kept inside the database has no file: the route sends it.
    const small = await backend.saveImage(samplePicture(2, 8), { id: 'tiny' })
    const inline = await fetch(`${route}/pixstore-image/tiny?proof=${small.statelessProof}&token=${small.token}&redirect=1`)
    expect(inline.headers.get('x-accel-redirect')).toBeNull()
    expect(Buffer.from(await inline.arrayBuffer())[0]).toBe(0)
  })

  it('lets the frontend show images the front server sent from the file, and recover when the file is gone', async () => {
    const image = samplePicture(3, 240)
    const record = await backend.saveImage(image, { id: 'shown' })
    sent.length = 0
    const frontend = createPixstoreFrontend({ defaultEndpointConnectHost: front, indexedDbName: uniqueDbName() })
    expect(await sha256(await frontend.getImage(record))).toBe(await sha256(image))
    expect(sent).toHaveLength(1)
    await frontend.close()
    // The file vanished between the route's answer and the front server's read (an update
    // in between): the fetcher asks the route again, which answers itself.
    front404.next = 1
    const again = createPixstoreFrontend({ defaultEndpointConnectHost: front, indexedDbName: uniqueDbName() })
    expect(await sha256(await again.getImage(record))).toBe(await sha256(image))
    await again.close()
  })

  it('names the absolute path with X-Sendfile', async () => {
    const other = tempDir()
    const sendfile = createPixstoreBackend({ dataDir: other.dir, statelessKeyWindowLength: -1, inlineImageMaxBytes: 0, fileDelivery: { header: 'X-Sendfile' } })
    try {
      const record = await sendfile.saveImage(samplePicture(4, 200), { id: 'a' })
      const handler = createNodeHandler(sendfile)
      const server = createServer((req, res) => void handler(req, res))
      const origin = await listen(server)
      try {
        const answer = await fetch(`${origin}/pixstore-image/a?proof=${record.statelessProof}&token=${record.token}&redirect=1`)
        const file = answer.headers.get('x-sendfile')!
        expect(path.isAbsolute(file) && file.startsWith(path.join(other.dir, 'images'))).toBe(true)
        expect(fs.existsSync(file)).toBe(true)
      } finally {
        await new Promise((resolve) => server.close(resolve))
      }
    } finally {
      await sendfile.close()
      other.remove()
    }
  })

  it('refuses a malformed option, and a blob store without files', () => {
    const where = { dataDir: data.dir, defaultEndpointEnabled: false }
    for (const fileDelivery of [{ header: 'X-Accel-Redirect' }, { header: 'X-Accel-Redirect', prefix: 'files' }, { header: 'X-Accel-Redirect', prefix: '/a/../b/' }, { header: 'Location' }, 'nginx']) {
      expect(() => createPixstoreBackend({ ...where, fileDelivery: fileDelivery as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
    }
    const noFiles: BlobStore = { write: async () => undefined, read: async () => undefined, delete: async () => undefined, close: async () => undefined }
    expect(() => createPixstoreBackend({ ...where, blobStore: noFiles, fileDelivery: { header: 'X-Sendfile' } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
  })
})
