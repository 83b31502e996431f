import { createDecipheriv, createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend, createSqliteMetadataStore, type PixstoreBackend, type PixstoreBackendConfig } from 'pixstore/backend'
import { PayloadState, decodePayload, type PixstoreError } from 'pixstore/shared'
import type { ImageRecord } from 'pixstore/types'
import { rotateProofSecretFile } from '../../src/backend/secrets.js'
import { fixture, listFiles, sleep, tempDir } from '../helpers.js'

const samples = ['sample.png', 'sample.jpg', 'sample.webp', 'sample.gif', 'sample.avif', 'sample-lossless.webp']
const formatByte = { png: 1, webp: 2, jpeg: 3, gif: 5, avif: 6 } as const
const masterKey = (id: string) => `${id}:${randomBytes(32).toString('base64')}`
const allOk = (n: number) => ({ checked: n, ok: n, failures: [] })

/** Every metadata row, read with better-sqlite3 directly. */
function rowsOf(dataDir: string) {
  const db = new Database(path.join(dataDir, 'pixstore.sqlite'), { readonly: true, fileMustExist: true })
  try {
    return db.prepare('SELECT * FROM pixstore_images ORDER BY id').all() as { id: string; token: number; key_id: string; wrapped_key: string; blob_key: string }[]
  } finally {
    db.close()
  }
}
const keyIdCounts = (dataDir: string) => {
  const counts: Record<string, number> = {}
  for (const row of rowsOf(dataDir)) counts[row.key_id] = (counts[row.key_id] ?? 0) + 1
  return counts
}
const blobFile = (dataDir: string, blobKey: string) => path.join(dataDir, 'images', blobKey.slice(0, 2), blobKey)

/** The plaintext ([format byte][image bytes]) of the Updated payload served for a record, decrypted with the payload's meta. */
async function served(backend: PixstoreBackend, record: ImageRecord): Promise<Buffer> {
  const payload = decodePayload(await backend.customEndpointHelper(record.id, undefined, record.statelessProof))
  if (payload.state !== PayloadState.Updated) throw new Error(`expected an Updated payload, got state ${payload.state}`)
  const decipher = createDecipheriv('aes-256-gcm', payload.key, payload.iv).setAuthTag(payload.tag)
  return Buffer.concat([decipher.update(payload.ciphertext), decipher.final()])
}

describe('Keys at rest: envelope encryption and rotation', () => {
  let data: ReturnType<typeof tempDir>
  const open: PixstoreBackend[] = []
  const cleanups: (() => void)[] = []

  const start = (options: Omit<PixstoreBackendConfig, 'dataDir'> = {}, dataDir = data.dir) => {
    // Images as files, so that the tests can reach the ciphertext at rest.
    const backend = createPixstoreBackend({ dataDir, inlineImageMaxBytes: 0, ...options })
    open.push(backend)
    return backend
  }
  const saveAll = async (backend: PixstoreBackend, names = samples) => {
    const records: ImageRecord[] = []
    for (const name of names) records.push((await backend.saveImage(fixture(name)))!)
    return records
  }
  /** Three images under master key 'old', then three under 'new' from a backend configured with both. */
  const halfRotated = async () => {
    const [oldKey, newKey] = [masterKey('old'), masterKey('new')]
    const before = start({ masterKeys: [oldKey] })
    const records = await saveAll(before, samples.slice(0, 3))
    await before.close()
    const both = start({ masterKeys: [newKey, oldKey] })
    for (const record of records) expect(both.getImageRecord(record.id)?.meta.key).toBe(record.meta.key)
    records.push(...(await saveAll(both, samples.slice(3))))
    expect(keyIdCounts(data.dir)).toEqual({ old: 3, new: 3 })
    return { both, newKey, records }
  }
  const proofState = async (backend: PixstoreBackend, id: string, proof: string) =>
    decodePayload(await backend.customEndpointHelper(id, undefined, proof)).state
  /** Each file under images/ with its mtime and content hash. */
  const snapshotImages = () =>
    listFiles(path.join(data.dir, 'images')).map((file) => {
      const full = path.join(data.dir, 'images', file)
      return { file, mtimeMs: fs.statSync(full).mtimeMs, sha256: createHash('sha256').update(fs.readFileSync(full)).digest('hex') }
    })

  beforeEach(() => {
    data = tempDir()
  })
  afterEach(async () => {
    for (const backend of open.splice(0)) await backend.close()
    vi.unstubAllEnvs()
    vi.restoreAllMocks()
    for (const cleanup of [...cleanups.splice(0), data.remove]) cleanup()
  })

  it('keeps no data key in the clear anywhere in the SQLite files', async () => {
    const records = await saveAll(start({ masterKeys: [masterKey('k1')] }))
    // Read while the backend is open, so the WAL file holds the rows too.
    const files = fs.readdirSync(data.dir).filter((name) => name.startsWith('pixstore.sqlite'))
    const bytes = Buffer.concat(files.map((name) => fs.readFileSync(path.join(data.dir, name))))
    for (const record of records) {
      const key = Buffer.from(record.meta.key, 'base64')
      for (const spelling of [key, ...(['base64', 'base64url', 'hex'] as const).map((encoding) => Buffer.from(key.toString(encoding)))]) {
        expect(bytes.includes(spelling)).toBe(false)
      }
    }
    const rows = rowsOf(data.dir)
    expect(rows.map((row) => row.id)).toEqual(records.map((r) => r.id).sort())
    for (const row of rows) {
      const key = records.find((r) => r.id === row.id)!.meta.key
      expect(row.key_id).toBe('k1')
      expect(row.wrapped_key).not.toBe(key)
      expect(Object.values(row).join('\n').includes(key)).toBe(false)
      expect(Buffer.from(row.wrapped_key, 'base64').includes(Buffer.from(key, 'base64'))).toBe(false)
    }
  })

  it('decrypts nothing from a copy of the SQLite file and the images folder alone', async () => {
    const original = start({ masterKeys: [masterKey('orig')] })
    const records = await saveAll(original, samples.slice(0, 3))
    await original.close()
    const copy = tempDir()
    cleanups.push(copy.remove)
    for (const name of fs.readdirSync(data.dir).filter((n) => n.startsWith('pixstore.sqlite'))) {
      fs.copyFileSync(path.join(data.dir, name), path.join(copy.dir, name))
    }
    fs.cpSync(path.join(data.dir, 'images'), path.join(copy.dir, 'images'), { recursive: true })

    // A foreign key id, and a different key under the original id.
    for (const keys of [[masterKey('other')], [masterKey('orig')]]) {
      const thief = start({ masterKeys: keys }, copy.dir)
      for (const record of records) {
        expect(() => thief.getImageRecord(record.id)).toThrow(expect.objectContaining({ code: 'DECRYPT_FAILED' }))
      }
      const report = await thief.verify()
      expect(report).toMatchObject({ checked: records.length, ok: 0 })
      expect(report.failures.map((f) => f.problem)).toEqual(records.map(() => 'key-unavailable'))
    }
  })

  it('wraps under the first configured master key, unwraps under any, and rotates without touching image files', async () => {
    const { both, newKey, records } = await halfRotated()
    const files = snapshotImages()
    const tokens = rowsOf(data.dir).map((row) => [row.id, row.token])
    await sleep(20)
    expect(await both.rotateMasterKey()).toEqual({
      currentKeyId: 'new',
      notReady: [],
      retired: ['old'],
      checked: 6,
      rewrapped: 3,
      changedMeanwhile: 0,
      unavailable: [],
      stillInUse: [],
    })
    expect(snapshotImages()).toEqual(files)
    expect(rowsOf(data.dir).map((row) => [row.id, row.token])).toEqual(tokens)
    expect(keyIdCounts(data.dir)).toEqual({ new: 6 })
    await both.close()

    const only = start({ masterKeys: [newKey] })
    expect(await only.verify()).toEqual(allOk(6))
    for (const [i, name] of samples.entries()) {
      const record = only.getImageRecord(records[i]!.id)!
      expect(record.token).toBe(records[i]!.token)
      const plain = await served(only, record)
      expect(plain[0]).toBe(formatByte[record.format!])
      expect(plain.subarray(1).equals(fixture(name))).toBe(true)
    }
  })

  it('resumes an interrupted rotation, and a finished one rewraps nothing more', async () => {
    const { both, newKey } = await halfRotated()
    const interrupted = both.rotateMasterKey({
      onProgress: (done) => {
        if (done === 1) throw new Error('interrupted after the first row')
      },
    })
    await expect(interrupted).rejects.toThrow('interrupted')
    const left = keyIdCounts(data.dir).old ?? 0
    expect(left).toBeGreaterThanOrEqual(2)
    expect(await both.rotateMasterKey()).toMatchObject({ checked: 6, rewrapped: left })
    expect(await both.rotateMasterKey()).toMatchObject({ checked: 6, rewrapped: 0, changedMeanwhile: 0 })
    await both.close()
    expect(await start({ masterKeys: [newKey] }).verify()).toEqual(allOk(6))
  })

  it('generates the master key owner-only in the data directory with a warning, and loads it on the next start', async () => {
    vi.stubEnv('PIXSTORE_MASTER_KEY', '')
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const first = start()
    expect(first.masterKeySource).toBe('generated')
    const file = path.join(data.dir, 'master-keys')
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(warn).toHaveBeenCalledTimes(1)
    const warning = String(warn.mock.calls[0]![0])
    expect(warning).toMatch(/In production, supply PIXSTORE_MASTER_KEY/)
    const entry = fs.readFileSync(file, 'utf8').trim()
    expect(warning.includes(entry.slice(entry.indexOf(':') + 1))).toBe(false)
    const records = await saveAll(first, samples.slice(0, 2))
    await first.close()

    warn.mockClear()
    const second = start()
    expect(second.masterKeySource).toBe('loaded')
    expect(warn).not.toHaveBeenCalled()
    for (const record of records) expect(second.getImageRecord(record.id)?.meta.key).toBe(record.meta.key)
    expect(await second.verify()).toEqual(allOk(2))
  })

  it.each(['master-keys', 'proof-secret'])('refuses a %s file that group or others can read, naming the file and the chmod that fixes it', async (name) => {
    vi.stubEnv('PIXSTORE_MASTER_KEY', '')
    vi.stubEnv('PIXSTORE_PROOF_SECRET', '')
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    await start().close()
    const file = path.join(data.dir, name)
    for (const mode of [0o640, 0o604, 0o644]) {
      fs.chmodSync(file, mode)
      const error = (() => {
        try {
          start()
        } catch (e) {
          return e as PixstoreError
        }
      })()
      expect(error).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining(`chmod 600 ${file}`) })
    }
    fs.chmodSync(file, 0o600)
    await start().close()
  })

  it.each([0, 1024 * 1024])(
    'keeps the bytes of a save and an update refused for a retired key and committed again under the next (inline limit %i)',
    async (inlineImageMaxBytes) => {
      const [a, b] = [masterKey('a'), masterKey('b')]
      const backend = start({ masterKeys: [a, b], inlineImageMaxBytes })
      const kept = (await backend.saveImage(fixture('sample.png')))!
      // Another process (a rotation) retires "a" while this one still wraps under it.
      const other = createSqliteMetadataStore({ file: path.join(data.dir, 'pixstore.sqlite') })
      await other.retireKeys(['a'])
      await other.close()
      const saved = (await backend.saveImage(fixture('sample.jpg')))!
      const updated = (await backend.updateImage(kept.id, fixture('sample.gif')))!
      expect(await backend.verify()).toEqual(allOk(2))
      for (const [record, name] of [[saved, 'sample.jpg'], [updated, 'sample.gif']] as const) {
        expect((await served(backend, backend.getImageRecord(record.id)!)).subarray(1).equals(fixture(name))).toBe(true)
      }
      expect(keyIdCounts(data.dir)).toEqual({ b: 2 })
    },
  )

  it('re-reads a changed key file at the next use when one read of it failed, instead of keeping the old keys', async () => {
    vi.stubEnv('PIXSTORE_MASTER_KEY', '')
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const reader = start()
    expect(reader.masterKeySource).toBe('generated')
    const file = path.join(data.dir, 'master-keys')
    const next = masterKey('next')
    const writer = start({ masterKeys: [next] })
    const record = (await writer.saveImage(fixture('sample.png')))!
    fs.writeFileSync(file, `${next}\n${fs.readFileSync(file, 'utf8')}`)
    const read = fs.readFileSync
    let failures = 1
    vi.spyOn(fs, 'readFileSync').mockImplementation(((...args: Parameters<typeof read>) => {
      if (typeof args[0] === 'number' && failures-- > 0) throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' })
      return read(...args)
    }) as typeof read)
    expect(() => reader.getImageRecord(record.id)).toThrow(expect.objectContaining({ code: 'DECRYPT_FAILED' }))
    expect(reader.getImageRecord(record.id)!.meta.key).toBe(record.meta.key)
  })

  it('refuses to generate a master key for a data directory that already holds images', async () => {
    vi.stubEnv('PIXSTORE_MASTER_KEY', '')
    const writer = start({ masterKeys: [masterKey('kept')] })
    await saveAll(writer, samples.slice(0, 1))
    await writer.close()
    expect(() => start()).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('kept') }))
    expect(fs.existsSync(path.join(data.dir, 'master-keys'))).toBe(false)
  })

  it('leaves rows whose key no configured master key unwraps as they are, and reports them', async () => {
    const { both, records } = await halfRotated()
    await both.close()
    const stranger = start({ masterKeys: [masterKey('newest'), masterKey('unrelated')] })
    const report = await stranger.rotateMasterKey()
    expect(report).toMatchObject({ currentKeyId: 'newest', checked: 6, rewrapped: 0 })
    expect([...report.unavailable].sort()).toEqual(records.map((r) => r.id).sort())
    expect(Object.keys(keyIdCounts(data.dir)).sort()).toEqual(['new', 'old'])
  })

  it('refuses a malformed master key with INVALID_CONFIG without quoting the key material', () => {
    const [good, other, short, long] = [32, 32, 16, 33].map((n) => randomBytes(n).toString('base64')) as [string, string, string, string]
    const malformed = [[good], [`k1:${short}`], [`k1:${long}`], [`bad id!:${good}`], [`:${good}`], [`dup:${good}`, `dup:${other}`]]
    for (const entries of malformed) {
      vi.stubEnv('PIXSTORE_MASTER_KEY', entries.join(','))
      // From the option, and from the environment.
      for (const attempt of [() => start({ masterKeys: entries }), () => start()]) {
        for (const material of entries.map((entry) => entry.slice(entry.indexOf(':') + 1))) {
          expect(attempt).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.not.stringContaining(material) }))
        }
      }
    }
  })

  it('rotates the proof secret file: new proofs, the previous secret still verifies, the one before is refused once its proofs expired', async () => {
    vi.stubEnv('PIXSTORE_PROOF_SECRET', '')
    // Proofs that never expire depend only on the secret, so proofs can be compared.
    const options = { masterKeys: [masterKey('k')], statelessKeyWindowLength: -1 }
    const first = start(options)
    expect(first.secretSource).toBe('generated')
    const id = (await saveAll(first, ['sample.png']))[0]!.id
    const proof1 = first.getImageRecord(id)!.statelessProof
    await first.close()

    rotateProofSecretFile(data.dir, 0)
    expect(fs.statSync(path.join(data.dir, 'proof-secret')).mode & 0o777).toBe(0o600)
    const second = start(options)
    expect(second.secretSource).toBe('loaded')
    const proof2 = second.getImageRecord(id)!.statelessProof
    expect(proof2).not.toBe(proof1)
    expect(await proofState(second, id, proof1)).toBe(PayloadState.Updated)
    expect(await proofState(second, id, proof2)).toBe(PayloadState.Updated)
    await second.close()

    rotateProofSecretFile(data.dir, 0)
    const third = start(options)
    const proof3 = third.getImageRecord(id)!.statelessProof
    expect(new Set([proof1, proof2, proof3]).size).toBe(3)
    expect(await proofState(third, id, proof3)).toBe(PayloadState.Updated)
    expect(await proofState(third, id, proof2)).toBe(PayloadState.Updated)
    expect(await proofState(third, id, proof1)).toBe(PayloadState.InvalidProof)
  })

  it('gc removes old orphan files only, keeps young ones by default and removes nothing in a dry run', async () => {
    const backend = start({ masterKeys: [masterKey('k')] })
    await saveAll(backend, samples.slice(0, 3))
    const images = path.join(data.dir, 'images')
    const referenced = listFiles(images)
    const plant = (ageMs: number) => {
      const key = randomBytes(16).toString('hex')
      fs.mkdirSync(path.dirname(blobFile(data.dir, key)), { recursive: true })
      fs.writeFileSync(blobFile(data.dir, key), randomBytes(100))
      const at = (Date.now() - ageMs) / 1000
      fs.utimesSync(blobFile(data.dir, key), at, at)
      return key
    }
    const old = [plant(60 * 60_000), plant(60 * 60_000)].sort()
    const young = plant(0)
    const sorted = (report: Awaited<ReturnType<PixstoreBackend['gc']>>) => ({ ...report, removed: report.removed.sort() })

    expect(sorted(await backend.gc({ dryRun: true }))).toEqual({ scanned: 6, removed: old, tooYoung: 1 })
    expect(listFiles(images)).toHaveLength(6)
    expect(sorted(await backend.gc())).toEqual({ scanned: 6, removed: old, tooYoung: 1 })
    expect(listFiles(images)).toEqual([...referenced, path.relative(images, blobFile(data.dir, young))].sort())
    await sleep(10)
    expect(await backend.gc({ olderThanMs: 0 })).toEqual({ scanned: 4, removed: [young], tooYoung: 0 })
    expect(listFiles(images)).toEqual(referenced)
    expect(await backend.verify()).toEqual(allOk(3))
  })

  it('verify reports a tampered image file as decrypt-failed and a deleted one as missing-file', async () => {
    const backend = start({ masterKeys: [masterKey('k')] })
    await saveAll(backend, samples.slice(0, 3))
    const [tampered, deleted] = rowsOf(data.dir)
    const file = blobFile(data.dir, tampered!.blob_key)
    const bytes = fs.readFileSync(file)
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x01
    fs.writeFileSync(file, bytes)
    fs.rmSync(blobFile(data.dir, deleted!.blob_key))

    expect(await backend.verify()).toEqual({
      checked: 3,
      ok: 1,
      failures: [
        { id: tampered!.id, problem: 'decrypt-failed' },
        { id: deleted!.id, problem: 'missing-file' },
      ],
    })
  })
})
