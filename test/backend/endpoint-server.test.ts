import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closePixstoreBackend, initPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { encodePng } from '../../demo/sample-images.js'
import { openFilesUnder, tempDir } from '../helpers.js'

const openFiles = openFilesUnder

/** A raw connection that sends `text` and reports when the server closes it. */
function connect(port: number, text: string) {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  let received = ''
  socket.on('data', (chunk) => (received += chunk.toString('latin1')))
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.write(text)
  return { socket, closed, received: () => received }
}

describe('the built-in endpoint under slow and stalled clients', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  let port: number
  let large: { id: string; proof: string }

  beforeAll(async () => {
    const started = initPixstoreBackend({
      dataDir: data.dir,
      inlineImageMaxBytes: 0,
      statelessKeyWindowLength: -1,
      defaultEndpointListenPort: 0,
      defaultEndpointHeadersTimeoutMs: 1000,
      defaultEndpointRequestTimeoutMs: 2000,
      defaultEndpointWriteTimeoutMs: 1000,
      defaultEndpointMaxConnections: 400,
    })
    backend = started.backend
    port = (await started.endpoint)!.port
    // Noise does not compress: about 12 MB, so it is streamed from its file, and more than
    // loopback's socket buffers take, so a client that does not read stalls the stream.
    const record = (await backend.saveImage(encodePng(2000, 2000, randomBytes(2000 * 2000 * 3))))!
    large = { id: record.id, proof: record.statelessProof }
  })
  afterAll(async () => {
    await closePixstoreBackend()
    data.remove()
  })

  it('serves requests while 200 slow-header clients are connected, and cuts those off after the header timeout', async () => {
    const slow = Array.from({ length: 200 }, () => connect(port, 'GET /pixstore-image/x HTTP/1.1\r\nHost: a\r\nX-Slow: '))
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/pixstore-image/${large.id}?proof=${large.proof}`, { signal: AbortSignal.timeout(5000) })
      expect(response.status).toBe(200)
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(2_000_000)
    }
    const started = Date.now()
    await Promise.all(slow.map((client) => client.closed))
    // 1 s of header timeout, checked every 250 ms; Node's default would hold them for a minute.
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('closes connections of clients that stopped reading, releasing their files within the timeout', async () => {
    const before = openFiles(data.dir)
    const stalled = Array.from({ length: 30 }, () => {
      const client = connect(port, `GET /pixstore-image/${large.id}?proof=${large.proof} HTTP/1.1\r\nHost: a\r\n\r\n`)
      client.socket.pause()
      return client
    })
    await expect.poll(() => openFiles(data.dir), { timeout: 3000 }).toBeGreaterThanOrEqual(before + 20)
    const stalledAt = Date.now()
    // 1 s of write timeout: every stalled connection is closed and its file released.
    await expect.poll(() => openFiles(data.dir), { timeout: 5000, interval: 100 }).toBe(before)
    expect(Date.now() - stalledAt).toBeLessThan(5000)
    for (const client of stalled) client.socket.destroy()
    const response = await fetch(`http://127.0.0.1:${port}/pixstore-image/${large.id}?proof=${large.proof}`, { signal: AbortSignal.timeout(10_000) })
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(10_000_000)
  })

  it('answers CONNECT with 405 instead of dropping the connection', async () => {
    const client = connect(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')
    await client.closed
    expect(client.received()).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/)
  })

  it('refuses connections beyond defaultEndpointMaxConnections', async () => {
    await closePixstoreBackend()
    const started = initPixstoreBackend({ dataDir: data.dir, defaultEndpointListenPort: 0, defaultEndpointMaxConnections: 3 })
    const { port: limited } = (await started.endpoint)!
    const held = Array.from({ length: 3 }, () => connect(limited, 'GET /pixstore-image/x HTTP/1.1\r\nHost: a\r\n'))
    await new Promise((resolve) => setTimeout(resolve, 200))
    const extra = connect(limited, 'GET /pixstore-image/x HTTP/1.1\r\nHost: a\r\n\r\n')
    await extra.closed
    expect(extra.received()).toBe('')
    for (const client of held) client.socket.destroy()
  })
})
