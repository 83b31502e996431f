import { fork } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createNodeHandler, createPixstoreBackend, createWebHandler, type PixstoreBackend } from 'pixstore/backend'
import { samplePicture } from '../../demo/sample-images.js'
import { decryptUpdatedPayload, fixture, listFiles, tempDir } from '../helpers.js'

const inlineKeys = (dataDir: string) => {
  const db = new Database(path.join(dataDir, 'pixstore.sqlite'), { readonly: true })
  try {
    return db.prepare('SELECT key FROM pixstore_inline_blobs ORDER BY key').pluck().all() as string[]
  } finally {
    db.close()
  }
}

describe('the embedded store', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  afterEach(async () => {
    await backend.close()
    data.remove()
  })

  it('keeps images up to inlineImageMaxBytes inside the database and larger ones as files, moving them as they change', async () => {
    const small = fixture('sample.png') // 2 KB
    const large = samplePicture(1, 200)
    expect(large.length).toBeGreaterThan(small.length + 1000)
    backend = createPixstoreBackend({ dataDir: data.dir, inlineImageMaxBytes: small.length + 100 })
    const images = path.join(data.dir, 'images')
    await backend.saveImage(small, { id: 'a' })
    await backend.saveImage(large, { id: 'b' })
    expect(inlineKeys(data.dir)).toHaveLength(1)
    expect(listFiles(images)).toHaveLength(1)

    // Small to large and large to small: each old inline blob goes with its commit, each old file right after.
    await backend.updateImage('a', large)
    await backend.updateImage('b', small)
    expect(inlineKeys(data.dir)).toHaveLength(1)
    await vi.waitFor(() => expect(listFiles(images)).toHaveLength(1))
    expect((await backend.verify()).failures).toEqual([])
    const stats = await backend.getStats()
    expect(stats.blobs).toEqual({ count: 2, bytes: small.length + 1 + large.length + 1 })

    await backend.deleteImage('a')
    await backend.deleteImage('b')
    expect(inlineKeys(data.dir)).toEqual([])
    expect(listFiles(images)).toEqual([])
  })

  it('gives through customEndpointHelper the bytes the image route sends, for inline and file images, in both states', async () => {
    const small = fixture('sample.png')
    backend = createPixstoreBackend({ dataDir: data.dir, inlineImageMaxBytes: small.length + 100 })
    const route = createWebHandler(backend)
    for (const [id, image] of [['inline', small], ['file', samplePicture(3, 300)]] as const) {
      const record = await backend.saveImage(image, { id })
      for (const token of [undefined, record.token]) {
        const headers: Record<string, string> = { 'x-pixstore-proof': record.statelessProof }
        if (token !== undefined) headers['x-pixstore-token'] = String(token)
        const sent = Buffer.from(await (await route(new Request(`http://app/pixstore-image/${id}`, { headers }))).arrayBuffer())
        const helped = Buffer.from(await backend.customEndpointHelper(id, token, record.statelessProof))
        expect(helped.equals(sent), `${id}, token ${token}`).toBe(true)
        expect(helped[0]).toBe(token === undefined ? 1 : 0)
      }
    }
    expect(inlineKeys(data.dir)).toHaveLength(1)
  })

  it('still serves images kept inline after inlineImageMaxBytes is lowered, through the route and the helper', async () => {
    const image = samplePicture(3, 300)
    backend = createPixstoreBackend({ dataDir: data.dir, inlineImageMaxBytes: image.length + 100 })
    const record = await backend.saveImage(image, { id: 'kept' })
    expect(inlineKeys(data.dir)).toHaveLength(1)
    await backend.close()
    backend = createPixstoreBackend({ dataDir: data.dir, inlineImageMaxBytes: 1000 })
    const route = createNodeHandler(backend)
    const server = createServer((req, res) => void route(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pixstore-image/kept?proof=${record.statelessProof}`
      for (const token of [undefined, record.token]) {
        const sent = Buffer.from(await (await fetch(token === undefined ? url : `${url}&token=${token}`)).arrayBuffer())
        const helped = Buffer.from(await backend.customEndpointHelper('kept', token, record.statelessProof))
        expect(sent[0]).toBe(token === undefined ? 1 : 0)
        expect(sent.equals(helped)).toBe(true)
      }
      expect(decryptUpdatedPayload(Buffer.from(await backend.customEndpointHelper('kept', undefined, record.statelessProof))).equals(image)).toBe(true)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('leaves nothing behind when a commit is refused', async () => {
    backend = createPixstoreBackend({ dataDir: data.dir })
    await backend.saveImage(fixture('sample.png'), { id: 'taken' })
    await expect(backend.saveImage(fixture('sample.jpg'), { id: 'taken' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' })
    expect(inlineKeys(data.dir)).toHaveLength(1)
    expect((await backend.getStats()).blobs?.count).toBe(1)
  })
})

describe('processes opening one new data directory at once', () => {
  const startChild = () =>
    new Promise<{ go(dataDir: string, id: string, image: Buffer): Promise<{ code: number | null; stderr: string }> }>((resolve) => {
      const child = fork(path.resolve('test/children/open-store.mjs'), { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
      let stderr = ''
      child.stderr!.on('data', (chunk) => (stderr += chunk))
      const exited = new Promise<number | null>((done) => child.once('exit', done))
      child.once('message', () =>
        resolve({
          async go(dataDir, id, image) {
            child.send({ dataDir, id, image: image.toString('base64') })
            return { code: await exited, stderr }
          },
        }),
      )
    })

  it('all start, and the store keeps every image they saved, over 10 rounds of 4 processes', async () => {
    const image = fixture('sample.png')
    for (let round = 0; round < 10; round++) {
      const data = tempDir()
      try {
        const ids = ['a', 'b', 'c', 'd'].map((letter) => `${letter}${round}`)
        const children = await Promise.all(ids.map(() => startChild()))
        const results = await Promise.all(children.map((child, i) => child.go(data.dir, ids[i]!, image)))
        expect(results.filter((r) => r.code !== 0).map((r) => r.stderr.split('\n').find((line) => /^\w*Error\b/.test(line)))).toEqual([])
        const backend = createPixstoreBackend({ dataDir: data.dir })
        try {
          for (const id of ids) expect(await backend.imageExists(id)).toBe(true)
        } finally {
          await backend.close()
        }
        const db = new Database(path.join(data.dir, 'pixstore.sqlite'), { readonly: true })
        expect(db.prepare('SELECT count(*) FROM pixstore_schema').pluck().get()).toBe(1)
        db.close()
      } finally {
        data.remove()
      }
    }
  }, 60_000)
})
