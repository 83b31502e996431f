import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import net, { type AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFilesystemBlobStore, createNodeHandler, createPixstoreBackend, type BlobStore, type PixstoreBackend } from 'pixstore/backend'
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

describe("the node handler's read buffers", () => {
  const data = tempDir()
  let backend: PixstoreBackend
  let server: Server
  let base: string
  // The memory of every buffer an image was read into, whole or in chunks.
  const whole: ArrayBufferLike[] = []
  const chunks: ArrayBufferLike[] = []
  const images: { id: string; proof: string; token: number; success: Buffer; updated: Buffer }[] = []

  beforeAll(async () => {
    const files = createFilesystemBlobStore({ dir: path.join(data.dir, 'blobs') })
    const noting: BlobStore = {
      ...files,
      async readWithRoom(key, room, size, allocate) {
        const frame = await files.readWithRoom!(key, room, size, allocate)
        if (frame) whole.push(frame.buffer)
        return frame
      },
      async open(key, allocate) {
        const opened = await files.open!(key, allocate)
        if (!opened) return undefined
        const body = opened.body
        return {
          size: opened.size,
          body: (async function* () {
            for await (const chunk of body) {
              chunks.push(chunk.buffer)
              yield chunk
            }
          })(),
        }
      },
    }
    backend = createPixstoreBackend({ dataDir: data.dir, blobStore: noting, inlineImageMaxBytes: 0, statelessKeyWindowLength: -1 })
    // Noise does not compress: three images of 250-300 KB, read whole, and one of about 4.3 MB, streamed.
    for (const side of [290, 300, 310, 1200]) {
      const record = (await backend.saveImage(encodePng(side, side, randomBytes(side * side * 3))))!
      const [success, updated] = await Promise.all([
        backend.customEndpointHelper(record.id, record.token, record.statelessProof),
        backend.customEndpointHelper(record.id, undefined, record.statelessProof),
      ])
      images.push({ id: record.id, proof: record.statelessProof, token: record.token, success: Buffer.from(success), updated: Buffer.from(updated) })
    }
    const handler = createNodeHandler(backend)
    server = createServer((req, res) => void handler(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pixstore-image/`
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await backend.close()
    data.remove()
  })

  const fetchPayload = async (image: (typeof images)[number], current: boolean) => {
    const token = current ? `&token=${image.token}` : ''
    const response = await fetch(`${base}${image.id}?proof=${image.proof}${token}`)
    return Buffer.from(await response.arrayBuffer())
  }

  it('reads answer after answer into the same memory, once each is sent', async () => {
    whole.length = 0
    chunks.length = 0
    const [small, , , large] = images
    for (let i = 0; i < 12; i++) expect((await fetchPayload(small!, i % 2 === 0)).equals(i % 2 === 0 ? small!.success : small!.updated)).toBe(true)
    for (let i = 0; i < 4; i++) expect((await fetchPayload(large!, true)).equals(large!.success)).toBe(true)
    expect(whole).toHaveLength(12)
    // One after another, every answer can use the memory the one before it gave back.
    expect(new Set(whole).size).toBeLessThanOrEqual(2)
    expect(chunks.length).toBeGreaterThanOrEqual(4 * 16)
    expect(new Set(chunks).size).toBeLessThanOrEqual(4)
  })

  it('never lets one answer overwrite another still being sent', async () => {
    // Clients that stop reading for a while leave their answers half-written; answers of like
    // sizes to other clients meanwhile must not take their memory. Each is exactly its own payload.
    const port = Number(new URL(base).port)
    const slowGet = (image: (typeof images)[number], current: boolean, pauseMs: number) =>
      new Promise<Buffer>((resolve, reject) => {
        const received: Buffer[] = []
        const socket = net.connect(port, '127.0.0.1', () => {
          const token = current ? `&token=${image.token}` : ''
          socket.write(`GET /pixstore-image/${image.id}?proof=${image.proof}${token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
          socket.pause()
          setTimeout(() => socket.resume(), pauseMs)
        })
        socket.on('data', (chunk) => received.push(chunk))
        socket.on('end', () => {
          const all = Buffer.concat(received)
          resolve(all.subarray(all.indexOf('\r\n\r\n') + 4))
        })
        socket.on('error', reject)
      })
    for (let round = 0; round < 3; round++) {
      const slow = images.map((image, i) => slowGet(image, i !== 1, 300))
      const fast = await Promise.all(
        Array.from({ length: 24 }, async (_, i) => {
          const image = images[i % 3]!
          const current = i % 4 !== 0
          return (await fetchPayload(image, current)).equals(current ? image.success : image.updated)
        }),
      )
      expect(fast.every(Boolean)).toBe(true)
      const answers = await Promise.all(slow)
      for (const [i, answer] of answers.entries()) expect(answer.equals(i !== 1 ? images[i]!.success : images[i]!.updated)).toBe(true)
    }
  })
})
