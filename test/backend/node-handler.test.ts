import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeHandler, createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { encodePng } from '../../demo/sample-images.js'
import { openFilesUnder, sleep, tempDir } from '../helpers.js'

const openFiles = openFilesUnder

describe('the node handler', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  let server: Server
  let port: number
  const ids: Record<string, { id: string; proof: string }> = {}

  beforeAll(async () => {
    backend = createPixstoreBackend({ dataDir: data.dir, inlineImageMaxBytes: 0, statelessKeyWindowLength: -1 })
    // Noise does not compress: about 1.9 MB, so it is streamed; the small one is read whole.
    for (const [name, side] of [['large', 800], ['small', 40]] as const) {
      const record = (await backend.saveImage(encodePng(side, side, randomBytes(side * side * 3))))!
      ids[name] = { id: record.id, proof: record.statelessProof }
    }
    const handler = createNodeHandler(backend)
    server = createServer((req, res) => void handler(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await backend.close()
    data.remove()
  })

  it('keeps answering, and leaves no file open, after clients leave before or during their answer', async () => {
    const before = openFiles(data.dir)
    const abandon = (name: string, after: number) =>
      new Promise<void>((resolve) => {
        const { id, proof } = ids[name]!
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(`GET /pixstore-image/${id}?proof=${proof} HTTP/1.1\r\nHost: x\r\n\r\n`)
          setTimeout(() => socket.destroy(), after)
        })
        socket.on('close', () => resolve())
        socket.on('error', () => undefined)
      })
    await Promise.all(Array.from({ length: 40 }, (_, i) => abandon(i % 2 ? 'large' : 'small', i % 4 < 2 ? 0 : 5)))
    await sleep(300)
    const { id, proof } = ids.large!
    const response = await fetch(`http://127.0.0.1:${port}/pixstore-image/${id}?proof=${proof}`, { signal: AbortSignal.timeout(5000) })
    expect(response.status).toBe(200)
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000)
    await expect.poll(() => openFiles(data.dir), { timeout: 3000 }).toBe(before)
  })
})
