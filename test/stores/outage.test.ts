import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFilesystemBlobStore, createPixstoreBackend, createPostgresMetadataStore, createS3BlobStore, type PixstoreBackend } from 'pixstore/backend'
import type { PixstoreError } from 'pixstore/shared'
import { PayloadState } from 'pixstore/shared'
import { samplePicture } from '../../demo/sample-images.js'
import { sleep, tempDir } from '../helpers.js'
import { pgUrl, postgresAvailable, testSchema } from './services.js'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js'

const codeOf = async (action: Promise<unknown>) => {
  try {
    await action
    return 'OK'
  } catch (error) {
    return (error as PixstoreError).code
  }
}

/** Times `action`, in ms. */
async function timed<T>(action: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await action()
  return { value, ms: performance.now() - started }
}

describe.runIf(await postgresAvailable())('PostgreSQL going away and coming back, through a proxy the test controls', () => {
  const { schema, drop } = testSchema()
  const data = tempDir()
  const ids = ['o1', 'o2', 'o3', 'o4']
  let proxy: TcpProxy
  let backend: PixstoreBackend
  /** The state byte the image route answers for `id` with a fresh proof (minted without the database). */
  const proofs = new Map<string, string>()
  const served = async (id: string) => (await backend.customEndpointHelper(id, undefined, proofs.get(id)))[0]

  beforeAll(async () => {
    const target = new URL(pgUrl)
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
    const proxied = new URL(pgUrl)
    proxied.hostname = '127.0.0.1'
    proxied.port = String(proxy.port)
    backend = createPixstoreBackend({
      metadataStore: createPostgresMetadataStore({
        connectionString: proxied.toString(),
        schema,
        // Short bounds, so that the test does not wait the defaults out.
        poolConfig: { connectionTimeoutMillis: 1000, query_timeout: 2000 },
      }),
      blobStore: createFilesystemBlobStore({ dir: path.join(data.dir, 'blobs') }),
      statelessKeyWindowLength: 600_000,
    })
    for (const [i, id] of ids.entries()) {
      const record = await backend.saveImage(samplePicture(i, 24), { id })
      proofs.set(id, record.statelessProof)
    }
  })
  afterAll(async () => {
    proxy.up()
    await backend.close()
    await proxy.close()
    await drop()
    data.remove()
  })

  it('answers state 6 or STORAGE_FAILED while the database is down or hangs, never crashing or hanging, and recovers by itself', async () => {
    for (const id of ids) expect(await served(id)).toBe(PayloadState.Updated)
    await backend.ready()

    // Down: connections cut, new ones refused.
    proxy.down()
    for (const id of ids) {
      const { value, ms } = await timed(() => served(id))
      expect(value).toBe(PayloadState.InternalError)
      expect(ms).toBeLessThan(5000)
    }
    expect(await codeOf(backend.saveImage(samplePicture(9, 24), { id: 'during-outage' }))).toBe('STORAGE_FAILED')
    expect(await codeOf(backend.getImageRecordAsync('o1'))).toBe('STORAGE_FAILED')
    expect(await codeOf(backend.ready())).toBe('STORAGE_FAILED')

    // Hanging: connections accepted and never answered; every wait is bounded.
    proxy.stall()
    const stalled = await timed(() => Promise.all(ids.map((id) => served(id))))
    expect(stalled.value).toEqual(ids.map(() => PayloadState.InternalError))
    expect(stalled.ms).toBeLessThan(8000)

    // Back: from the first request on, nothing fails.
    proxy.up()
    await sleep(50)
    for (let round = 0; round < 5; round++) {
      for (const id of ids) expect(await served(id)).toBe(PayloadState.Updated)
    }
    await backend.ready()
    expect((await backend.saveImage(samplePicture(10, 24), { id: 'after-outage' })).id).toBe('after-outage')
    // The write refused during the outage left no row; its file (kept, since whether its
    // commit took effect could not be read back then) is an orphan that gc removes.
    expect(await backend.imageExists('during-outage')).toBe(false)
    expect((await backend.gc({ olderThanMs: 0 })).removed.length).toBeLessThanOrEqual(1)
    expect((await backend.gc({ olderThanMs: 0, dryRun: true })).removed).toEqual([])
    expect((await backend.verify()).failures).toEqual([])
  }, 60_000)

  it('bounds the wait on a database that hangs with its default settings too', async () => {
    const proxied = new URL(pgUrl)
    proxied.hostname = '127.0.0.1'
    proxied.port = String(proxy.port)
    const defaults = createPixstoreBackend({
      metadataStore: createPostgresMetadataStore({ connectionString: proxied.toString(), schema }),
      blobStore: createFilesystemBlobStore({ dir: path.join(data.dir, 'blobs') }),
    })
    try {
      expect(await defaults.imageExists('o1')).toBe(true)
      proxy.stall()
      const { value, ms } = await timed(() => codeOf(defaults.getImageRecordAsync('o1')))
      expect(value).toBe('STORAGE_FAILED')
      expect(ms).toBeLessThan(12_000) // the 5 s connection timeout, tried twice
    } finally {
      proxy.up()
      await defaults.close()
    }
  }, 30_000)

  it('survives the database dropping every connection in the middle of traffic', async () => {
    let stop = false
    const outcomes: number[] = []
    const traffic = Promise.all(
      [0, 1, 2, 3].map(async (lane) => {
        while (!stop) outcomes.push((await served(ids[lane]!))!)
      }),
    )
    await sleep(200)
    proxy.down()
    await sleep(200)
    proxy.up()
    await sleep(300)
    const afterRecovery = outcomes.length
    await sleep(300)
    stop = true
    await traffic
    expect(new Set(outcomes)).toEqual(new Set([PayloadState.Updated, PayloadState.InternalError]))
    // Once the database was back (and 300 ms had passed), every answer was an image.
    expect(outcomes.slice(afterRecovery).every((state) => state === PayloadState.Updated)).toBe(true)
    expect(outcomes.length - afterRecovery).toBeGreaterThan(10)
  }, 30_000)
})

describe('an S3 object store that hangs or is slow', () => {
  let server: http.Server
  let endpoint: string
  const held: http.ServerResponse[] = []
  beforeAll(async () => {
    // Answers nothing, ever: every request waits until the client gives up.
    server = http.createServer((_req, res) => held.push(res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    for (const res of held) res.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  it('gives up after its request timeout and retries, with STORAGE_FAILED, and fails readiness', async () => {
    const store = createS3BlobStore({
      bucket: 'hangs',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      requestTimeoutMs: 300,
      maxAttempts: 2,
    })
    try {
      const { value, ms } = await timed(() => codeOf(store.read('0'.repeat(32))))
      expect(value).toBe('STORAGE_FAILED')
      expect(ms).toBeLessThan(3000)
      expect(held.length).toBe(2) // two attempts reached the server
      expect(await codeOf(store.check!())).toBe('STORAGE_FAILED')
    } finally {
      await store.close()
    }
  })

  it('serves other images while one object is slow', async () => {
    const slowKey = 'a'.repeat(32)
    let release: () => void = () => undefined
    const objects = new Map<string, Uint8Array>()
    // An S3 client whose one object takes as long as the test says; the others answer at once.
    const client = {
      async send(command: { input: { Key?: string; Body?: Uint8Array }; constructor: { name: string } }) {
        const key = command.input.Key!.slice('pixstore/'.length)
        if (command.constructor.name === 'PutObjectCommand') objects.set(key, command.input.Body!)
        if (command.constructor.name !== 'GetObjectCommand') return {}
        if (key === slowKey) await new Promise<void>((resolve) => (release = resolve))
        const bytes = objects.get(key)
        if (!bytes) throw Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey' })
        return { ContentLength: bytes.byteLength, Body: (async function* () { yield bytes })() }
      },
      destroy() {},
    }
    const store = createS3BlobStore({ bucket: 'slow', client })
    await store.write(slowKey, Uint8Array.of(1))
    await store.write('b'.repeat(32), Uint8Array.of(2))
    const slow = store.read(slowKey)
    const { value, ms } = await timed(() => store.read('b'.repeat(32)))
    expect([...value!]).toEqual([2])
    expect(ms).toBeLessThan(500)
    release()
    expect([...(await slow)!]).toEqual([1])
  })
})
