import path from 'node:path'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  closePixstoreBackend,
  createFilesystemBlobStore,
  createPixstoreBackend,
  createPostgresMetadataStore,
  createSqliteMetadataStore,
  getImageRecords,
  getImageRecordsAsync,
  initPixstoreBackend,
  type MetadataStore,
  type PixstoreBackend,
} from 'pixstore/backend'
import type { PixstoreError } from 'pixstore/shared'
import type { ImageRecord } from 'pixstore/types'
import { samplePicture } from '../../demo/sample-images.js'
import { tempDir } from '../helpers.js'
import { pgUrl, postgresAvailable, testSchema } from '../stores/services.js'

/** What identifies a version in a record (the proof is minted anew at every call). */
const version = (record: ImageRecord | null) => record && { id: record.id, token: record.token, meta: record.meta, format: record.format }
const codeOf = (action: () => unknown) => {
  try {
    action()
    return 'OK'
  } catch (error) {
    return (error as PixstoreError).code
  }
}
const saveAll = async (backend: PixstoreBackend, ids: string[]) => {
  for (const [i, id] of ids.entries()) await backend.saveImage(samplePicture(i, 24), { id })
}

describe('getImageRecords: the records of a page of images in one read', () => {
  const data = tempDir()
  let backend: PixstoreBackend
  beforeAll(async () => {
    backend = createPixstoreBackend({ dataDir: data.dir })
    await saveAll(backend, ['p1', 'p2', 'p3'])
  })
  afterAll(async () => {
    await backend.close()
    data.remove()
  })

  it('answers in the order of the ids, null for each unknown one, a repeated id each time', async () => {
    const expected = ['p3', 'nobody', 'p1', 'p3', 'p2'].map((id) => version(backend.getImageRecord(id)))
    expect(backend.getImageRecords(['p3', 'nobody', 'p1', 'p3', 'p2']).map(version)).toEqual(expected)
    expect((await backend.getImageRecordsAsync(['p3', 'nobody', 'p1', 'p3', 'p2'])).map(version)).toEqual(expected)
    expect(backend.getImageRecords([])).toEqual([])
    const [record] = backend.getImageRecords(['p2'])
    expect(record!.statelessProof).toBe(backend.getImageRecord('p2')!.statelessProof)
  })

  it('refuses a hostile id anywhere in the list, a list that is not an array, and more than 1000 ids', () => {
    expect(codeOf(() => backend.getImageRecords(['p1', '../p2']))).toBe('INVALID_ID')
    expect(codeOf(() => backend.getImageRecords(['p1', 'x'.repeat(201)]))).toBe('INVALID_ID')
    expect(codeOf(() => backend.getImageRecords('p1' as unknown as string[]))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => backend.getImageRecords(Array.from({ length: 1001 }, (_, i) => `p${i}`)))).toBe('INVALID_ARGUMENT')
    expect(backend.getImageRecords(Array.from({ length: 1000 }, () => 'p1'))).toHaveLength(1000)
  })

  it('reads one id at a time from a custom store without getMany', async () => {
    // The same database, through a store that lacks the batch capability.
    const { getMany, getManySync, ...withoutBatch } = createSqliteMetadataStore({ file: path.join(data.dir, 'pixstore.sqlite') }) as SqliteWithBatch
    expect([getMany, getManySync].every((method) => typeof method === 'function')).toBe(true)
    const plain = createPixstoreBackend({ metadataStore: withoutBatch, blobStore: createFilesystemBlobStore({ dir: path.join(data.dir, 'images') }) })
    expect((await plain.getImageRecordsAsync(['p2', 'nobody'])).map((record) => version(record))).toEqual([version(backend.getImageRecord('p2')), null])
    await plain.close()
  })
})

type SqliteWithBatch = MetadataStore & Required<Pick<MetadataStore, 'getMany' | 'getManySync'>>

describe('getImageRecords as a module function', () => {
  const data = tempDir()
  afterEach(async () => {
    await closePixstoreBackend()
  })
  afterAll(() => data.remove())

  it('returns the records, and null with onError told why for a hostile id', async () => {
    const errors: string[] = []
    const { backend } = initPixstoreBackend({ dataDir: data.dir, defaultEndpointEnabled: false, onError: (error) => errors.push(error.code) })
    await saveAll(backend, ['m1'])
    expect(getImageRecords(['m1', 'm2'])?.map((record) => record?.id ?? null)).toEqual(['m1', null])
    expect((await getImageRecordsAsync(['m1']))?.[0]?.id).toBe('m1')
    expect(getImageRecords(['m1', '..'])).toBeNull()
    expect(errors).toEqual(['INVALID_ID'])
  })
})

describe.runIf(await postgresAvailable())('getImageRecordsAsync on PostgreSQL', () => {
  const { schema, drop } = testSchema()
  const pool = new pg.Pool({ connectionString: pgUrl })
  const queries: string[] = []
  // The app's pool, counting what Pixstore asks of it.
  const counting = {
    query: (text: string, values?: unknown[]) => {
      queries.push(text)
      return pool.query(text, values)
    },
    connect: () => pool.connect(),
  }
  const data = tempDir()
  let backend: PixstoreBackend
  beforeAll(async () => {
    backend = createPixstoreBackend({
      metadataStore: createPostgresMetadataStore({ pool: counting as unknown as pg.Pool, schema }),
      blobStore: createFilesystemBlobStore({ dir: data.dir }),
    })
    await saveAll(backend, Array.from({ length: 50 }, (_, i) => `pg${i}`))
  })
  afterAll(async () => {
    await backend.close()
    await pool.end()
    await drop()
    data.remove()
  })

  it('reads 50 records with one query, in the order asked', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `pg${49 - i}`)
    const before = queries.length
    const records = await backend.getImageRecordsAsync([...ids, 'nobody'])
    expect(queries.length - before).toBe(1)
    expect(records.map((record) => record?.id ?? null)).toEqual([...ids, null])
  })

  it('has no synchronous form there', () => {
    expect(codeOf(() => backend.getImageRecords(['pg1']))).toBe('UNSUPPORTED')
  })
})
