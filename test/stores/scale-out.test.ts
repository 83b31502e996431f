import { createDecipheriv, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPixstoreBackend,
  createPostgresMetadataStore,
  createS3BlobStore,
  type PixstoreBackend,
} from 'pixstore/backend'
import { PayloadState } from 'pixstore/shared'
import type { ImageRecord } from 'pixstore/types'
import { samplePicture } from '../../demo/sample-images.js'
import { sha256 } from '../helpers.js'
import { pgUrl, postgresAvailable, startS3, testSchema } from './services.js'
import { fetchPayload, startInstance, type Instance } from '../children/instances.js'

const decrypt = (ciphertext: Uint8Array, key: Uint8Array, iv: Uint8Array, tag: Uint8Array) => {
  const decipher = createDecipheriv('aes-256-gcm', key, iv).setAuthTag(tag)
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]).subarray(1)
}
const meta = (record: ImageRecord) => ['key', 'iv', 'tag'].map((k) => Buffer.from(record.meta[k as 'key'], 'base64')) as [Buffer, Buffer, Buffer]

describe.runIf(await postgresAvailable())('several instances on PostgreSQL and S3', () => {
  const env = {
    ...process.env,
    PIXSTORE_PROOF_SECRET: randomBytes(32).toString('base64url'),
    PIXSTORE_MASTER_KEY: `shared:${randomBytes(32).toString('base64')}`,
  }
  const { schema, drop } = testSchema()
  let s3: Awaited<ReturnType<typeof startS3>>
  let a: Instance
  let b: Instance
  const image = (i: number) => samplePicture(i, 64)

  beforeAll(async () => {
    s3 = await startS3()
    const settings = { pgUrl, schema, s3: s3.options }
    ;[a, b] = await Promise.all([startInstance(settings, env), startInstance(settings, env)])
  }, 60_000)
  afterAll(async () => {
    for (const instance of [a, b]) instance?.child.kill()
    await s3?.stop()
    await drop()
  })

  it('fetches from instance B a record that instance A issued', async () => {
    const record = await a.call<ImageRecord>('save', { id: 'player-1', image: image(1).toString('base64') })
    const payload = await fetchPayload(b, record, record.token)
    expect(payload.state).toBe(PayloadState.Success)
    if (payload.state !== PayloadState.Success) return
    expect(await sha256(decrypt(payload.ciphertext, ...meta(record)))).toBe(await sha256(image(1)))
  })

  it('serves an update made through B to a stale record fetched through A', async () => {
    const stale = await a.call<ImageRecord>('record', { id: 'player-1' })
    const fresh = await b.call<ImageRecord>('update', { id: 'player-1', image: image(2).toString('base64') })
    expect(fresh.token).toBeGreaterThan(stale.token)
    const payload = await fetchPayload(a, stale, stale.token)
    expect(payload.state).toBe(PayloadState.Updated)
    if (payload.state !== PayloadState.Updated) return
    expect(payload.token).toBe(fresh.token)
    expect(await sha256(decrypt(payload.ciphertext, payload.key, payload.iv, payload.tag))).toBe(await sha256(image(2)))
  })

  it('keeps tokens strictly increasing and every image decrypting under concurrent updates through both', async () => {
    for (const id of ['c-1', 'c-2']) await a.call('save', { id, image: image(3).toString('base64') })
    const updates = Array.from({ length: 40 }, (_, i) =>
      (i % 2 ? a : b).call<ImageRecord>('update', { id: i % 3 ? 'c-1' : 'c-2', image: image(10 + (i % 7)).toString('base64') }),
    )
    const records = await Promise.all(updates)
    expect(new Set(records.map((r) => r.token)).size).toBe(40)
    for (const id of ['c-1', 'c-2']) {
      const mine = records.filter((r) => r.id === id)
      const current = await b.call<ImageRecord>('record', { id })
      expect(current.token).toBe(Math.max(...mine.map((r) => r.token)))
      const payload = await fetchPayload(a, current, undefined)
      if (payload.state !== PayloadState.Updated) throw new Error(`state ${payload.state}`)
      const winner = mine.find((r) => r.token === current.token)!
      expect(Buffer.from(payload.key)).toEqual(meta(winner)[0])
    }
    const verified = await a.call<{ failures: unknown[]; checked: number }>('verify')
    expect(verified.failures).toEqual([])
    expect(verified.checked).toBe(3)
  })
})

describe.runIf(await postgresAvailable())('the synchronous getImageRecord on PostgreSQL', () => {
  it('refuses with UNSUPPORTED naming the awaitable form, which works', async () => {
    const { schema, drop } = testSchema()
    const s3 = await startS3()
    let backend: PixstoreBackend | undefined
    try {
      backend = createPixstoreBackend({
        metadataStore: createPostgresMetadataStore({ connectionString: pgUrl, schema }),
        blobStore: createS3BlobStore(s3.options),
      })
      const saved = (await backend.saveImage(image(), { id: 'sync-check' }))!
      expect(() => backend!.getImageRecord('sync-check')).toThrow(
        expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining('getImageRecordAsync') }),
      )
      expect((await backend.getImageRecordAsync('sync-check'))?.token).toBe(saved.token)
    } finally {
      await backend?.close()
      await s3.stop()
      await drop()
    }
  })

  it('leaves no row behind when an upload fails, and gc removes objects no row points to', async () => {
    const { schema, drop } = testSchema()
    const s3 = await startS3()
    const metadataStore = createPostgresMetadataStore({ connectionString: pgUrl, schema })
    const broken = createPixstoreBackend({ metadataStore, blobStore: createS3BlobStore({ ...s3.options, bucket: 'no-such-bucket' }) })
    const blobStore = createS3BlobStore(s3.options)
    const working = createPixstoreBackend({ metadataStore, blobStore })
    try {
      await expect(broken.saveImage(image(), { id: 'lost' })).rejects.toMatchObject({ code: 'STORAGE_FAILED' })
      expect(await metadataStore.get('lost')).toBeUndefined()
      const kept = (await working.saveImage(image(), { id: 'kept' }))!
      const orphan = randomBytes(16).toString('hex')
      await blobStore.write(orphan, randomBytes(100))
      const report = await working.gc({ olderThanMs: 0 })
      expect(report.removed).toEqual([orphan])
      expect((await working.verify()).failures).toEqual([])
      expect((await working.getImageRecordAsync('kept'))?.token).toBe(kept.token)
    } finally {
      await working.close()
      await s3.stop()
      await drop()
    }
  })

  it('requires the secrets to come from configuration when the metadata store is shared', () => {
    const store = createPostgresMetadataStore({ connectionString: pgUrl })
    const saved = { proof: process.env.PIXSTORE_PROOF_SECRET, key: process.env.PIXSTORE_MASTER_KEY }
    delete process.env.PIXSTORE_PROOF_SECRET
    try {
      expect(() => createPixstoreBackend({ metadataStore: store })).toThrow(/statelessProofSecret" is required with a shared metadataStore \(or PIXSTORE_PROOF_SECRET\)/)
    } finally {
      process.env.PIXSTORE_PROOF_SECRET = saved.proof
    }
  })
})

function image(): Buffer {
  return samplePicture(0, 32)
}
