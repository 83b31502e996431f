import 'fake-indexeddb/auto'
import { createHmac } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  createFilesystemBlobStore,
  createPixstoreBackend,
  createPostgresMetadataStore,
  createS3BlobStore,
  createSqliteMetadataStore,
  type PixstoreBackend,
} from 'pixstore/backend'
import { getImage, getImageURL, initPixstoreFrontend } from 'pixstore/frontend'
import { PayloadState, decodePayload } from 'pixstore/shared'
import { resolveBackendConfig } from '../../src/backend/config.js'
import { resolveFrontendConfig } from '../../src/frontend/config.js'
import { fixture, listFiles, tempDir, uniqueDbName } from '../helpers.js'
import { pgUrl, postgresAvailable, startS3, testSchema } from '../stores/services.js'

// Everything planted on Object.prototype by a test is removed again after it.
const planted = new Set<string>()
function plant(name: string, value: unknown): void {
  Object.defineProperty(Object.prototype, name, { value, configurable: true, writable: true, enumerable: false })
  planted.add(name)
}
afterEach(() => {
  for (const name of planted) delete (Object.prototype as Record<string, unknown>)[name]
  planted.clear()
})

const data = tempDir()
afterAll(() => data.remove())
const withPostgres = await postgresAvailable()
const attackerSecret = 'attacker-'.padEnd(48, 'x')
const attackerKey = `evil:${Buffer.alloc(32, 7).toString('base64')}`
const forge = (id: string, window: number, secret = attackerSecret) =>
  createHmac('sha256', secret).update(`pixstore-proof:${window}:${id}`).digest('base64url')
const backendOptions = [
  'dataDir',
  'imageMaxBytes',
  'imageMaxPixels',
  'inlineImageMaxBytes',
  'keepMetadata',
  'masterKeys',
  'statelessKeyWindowLength',
  'statelessProofSecret',
  'defaultEndpointEnabled',
  'defaultEndpointListenHost',
  'defaultEndpointListenPort',
  'defaultEndpointRoute',
  'defaultEndpointHeadersTimeoutMs',
  'defaultEndpointRequestTimeoutMs',
  'defaultEndpointIdleTimeoutMs',
  'defaultEndpointWriteTimeoutMs',
  'defaultEndpointMaxConnections',
  'accessControlAllowOrigin',
  'metadataStore',
  'blobStore',
  'errorHandlingMode',
]
// Values that would pass validation, so that only reading them is what is tested.
const validValue = (name: string): unknown =>
  ({
    dataDir: '/tmp/polluted',
    keepMetadata: true,
    masterKeys: [attackerKey],
    statelessProofSecret: attackerSecret,
    defaultEndpointEnabled: false,
    defaultEndpointListenHost: '0.0.0.0',
    defaultEndpointRoute: '/polluted',
    accessControlAllowOrigin: 'https://evil.example',
    errorHandlingMode: 'silent',
    metadataStore: undefined,
    blobStore: undefined,
  })[name] ?? 7

describe('options are read only from the object given, never from a polluted Object.prototype', () => {
  it.each(backendOptions)('backend configuration ignores a planted "%s"', (name) => {
    const clean = resolveBackendConfig({ dataDir: data.dir })
    plant(name, validValue(name))
    expect(resolveBackendConfig({ dataDir: data.dir })).toEqual(clean)
  })

  it('a planted proof secret, master key or store is not used: forged proofs are refused, writes land in dataDir', async () => {
    const calls: string[] = []
    const trap = new Proxy({}, { get: (_, property) => (calls.push(String(property)), () => Promise.reject(new Error('trap'))) })
    plant('statelessProofSecret', attackerSecret)
    plant('masterKeys', [attackerKey])
    plant('metadataStore', trap)
    plant('blobStore', trap)
    const backend = createPixstoreBackend({ dataDir: data.dir })
    try {
      expect(backend.secretSource).toBe('environment')
      expect(backend.masterKeySource).toBe('environment')
      const record = (await backend.saveImage(fixture('sample.png')))!
      expect(calls).toEqual([])
      expect(fs.existsSync(path.join(data.dir, 'pixstore.sqlite'))).toBe(true)
      const window = Math.floor(Date.now() / 20_000)
      for (const proof of [forge(record.id, window), forge(record.id, window - 1)]) {
        expect(decodePayload(await backend.customEndpointHelper(record.id, undefined, proof)).state).toBe(PayloadState.InvalidProof)
      }
      expect(record.statelessProof).not.toBe(forge(record.id, window))
    } finally {
      await backend.close()
    }
  })

  describe('backend calls', () => {
    let backend: PixstoreBackend
    afterEach(async () => backend?.close())

    it('saveImage ignores a planted id or dir, and getImageRecord a planted issuedAt', async () => {
      backend = createPixstoreBackend({ dataDir: data.dir })
      const victim = (await backend.saveImage(fixture('sample.png'), { id: 'victim' }))!
      plant('id', 'victim')
      plant('dir', 'planted')
      const saved = (await backend.saveImage(fixture('sample.jpg'), {}))!
      expect(saved.id).not.toBe('victim')
      expect(saved.id.startsWith('planted')).toBe(false)
      const dirSaved = (await backend.saveImage(fixture('sample.jpg'), { dir: 'avatars' }))!
      expect(dirSaved.id.startsWith('avatars:')).toBe(true)
      expect(backend.getImageRecord('victim')!.token).toBe(victim.token)
      plant('issuedAt', 0)
      const record = backend.getImageRecord(saved.id)!
      expect(decodePayload(await backend.customEndpointHelper(saved.id, undefined, record.statelessProof)).state).toBe(PayloadState.Updated)
    })

    it('gc ignores a planted dryRun or olderThanMs, and rotation a planted waitMs', async () => {
      backend = createPixstoreBackend({ dataDir: data.dir, inlineImageMaxBytes: 0 })
      const orphan = path.join(data.dir, 'images', 'ab', 'ab'.padEnd(32, '0'))
      fs.mkdirSync(path.dirname(orphan), { recursive: true })
      fs.writeFileSync(orphan, 'x')
      plant('olderThanMs', 0)
      plant('dryRun', false)
      expect((await backend.gc()).removed).toEqual([])
      expect(fs.existsSync(orphan)).toBe(true)
      plant('onProgress', () => {
        throw new Error('planted callback ran')
      })
      await expect(backend.rotateMasterKey()).resolves.toMatchObject({ notReady: [] })
    })
  })

  it('the SQLite and filesystem stores ignore planted options', async () => {
    const dir = tempDir()
    try {
      plant('file', path.join(dir.dir, 'planted.sqlite'))
      plant('dir', path.join(dir.dir, 'planted'))
      const metadata = createSqliteMetadataStore({ file: path.join(dir.dir, 'own.sqlite') })
      const blobs = createFilesystemBlobStore({ dir: path.join(dir.dir, 'own') })
      await blobs.write('ab'.padEnd(32, '1'), new Uint8Array([1]))
      await Promise.all([metadata.close(), blobs.close()])
      expect(listFiles(dir.dir).filter((f) => f.includes('planted'))).toEqual([])
    } finally {
      dir.remove()
    }
  })

  it.runIf(withPostgres)('the PostgreSQL and S3 stores ignore a planted schema, table prefix, pool or object prefix', async () => {
    const { schema, drop } = testSchema()
    const s3 = await startS3()
    try {
      plant('tablePrefix', 'planted_')
      plant('pool', { connect: () => Promise.reject(new Error('planted pool')), query: () => Promise.reject(new Error('planted pool')) })
      plant('prefix', 'planted/')
      const metadata = createPostgresMetadataStore({ connectionString: pgUrl, schema })
      const blobs = createS3BlobStore(s3.options)
      try {
        expect(await metadata.get('nothing')).toBeUndefined()
        await blobs.write('ab'.padEnd(32, '2'), new Uint8Array([2]))
        const keys: string[] = []
        for await (const blob of blobs.list!()) keys.push(blob.key)
        expect(keys).toEqual(['ab'.padEnd(32, '2')])
        expect(Buffer.from((await blobs.read('ab'.padEnd(32, '2')))!)).toEqual(Buffer.from([2]))
      } finally {
        await Promise.all([metadata.close(), blobs.close()])
      }
      const pg = (await import('pg')).default
      const client = new pg.Client({ connectionString: pgUrl })
      await client.connect()
      const { rows } = await client.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema])
      await client.end()
      expect(rows.map((r) => r.table_name)).toContain('pixstore_images')
      expect(rows.some((r) => r.table_name.startsWith('planted_'))).toBe(false)
    } finally {
      await s3.stop()
      await drop()
    }
  })

  it.each(['defaultEndpointConnectHost', 'defaultEndpointConnectPort', 'defaultEndpointRoute', 'frontendImageCacheLimit', 'indexedDbName', 'proofTransport', 'fetchTimeoutMs', 'refresh', 'errorHandlingMode'])(
    'frontend configuration ignores a planted "%s"',
    (name) => {
      const clean = resolveFrontendConfig({})
      const values: Record<string, unknown> = {
        defaultEndpointConnectHost: 'https://evil.example',
        defaultEndpointConnectPort: 4444,
        defaultEndpointRoute: '/evil',
        indexedDbName: 'evil',
        proofTransport: 'headers',
        refresh: async () => ({}),
        errorHandlingMode: 'silent',
      }
      plant(name, values[name] ?? 3)
      expect(resolveFrontendConfig({})).toEqual(clean)
    },
  )

  it('getImage and getImageURL ignore a planted signal, refresh or context, and records a planted proof', async () => {
    const backend = createPixstoreBackend({ dataDir: data.dir })
    try {
      const record = (await backend.saveImage(fixture('sample.png')))!
      const contexts: unknown[] = []
      initPixstoreFrontend({ indexedDbName: uniqueDbName(), errorHandlingMode: 'throw' }, async (r, context) => {
        contexts.push(context)
        return backend.customEndpointHelper(r.id, r.token, r.statelessProof)
      })
      plant('signal', AbortSignal.abort())
      plant('refresh', async () => {
        throw new Error('planted refresh ran')
      })
      plant('context', 'planted')
      expect(await getImage(record)).toBeInstanceOf(Blob)
      ;(await getImageURL(record))!.release()
      expect(contexts).toEqual([undefined])
      const { statelessProof, ...withoutProof } = record
      plant('statelessProof', statelessProof)
      await expect(getImage(withoutProof as typeof record)).rejects.toMatchObject({ code: 'INVALID_RECORD' })
    } finally {
      await backend.close()
      initPixstoreFrontend({})
    }
  })
})
