import { execFile } from 'node:child_process'
import { createDecipheriv, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { PayloadState } from 'pixstore/shared'
import type { ImageRecord } from 'pixstore/types'
import { samplePicture } from '../../demo/sample-images.js'
import { fetchPayload, startInstance, type Instance } from '../children/instances.js'
import { pgUrl, postgresAvailable, startS3, testSchema } from '../stores/services.js'
import { sha256, sleep, tempDir } from '../helpers.js'

const run = promisify(execFile)
const cliPath = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url))

// The suite's own keys would hide the files; these processes read their keys where each scenario says.
const baseEnv = { ...process.env }
delete baseEnv.PIXSTORE_MASTER_KEY
delete baseEnv.PIXSTORE_PROOF_SECRET

async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, ...args], { env })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string }
    if (typeof failed.code !== 'number') throw error
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' }
  }
}

const decrypt = (ciphertext: Uint8Array, key: Uint8Array, iv: Uint8Array, tag: Uint8Array) => {
  const decipher = createDecipheriv('aes-256-gcm', key, iv).setAuthTag(tag)
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]).subarray(1)
}

/** Reads `id` through `reader` with a record from `issuer`, both as a fresh client and as one holding the record's version. */
async function readBack(issuer: Instance, reader: Instance, id: string): Promise<string> {
  const record = await issuer.call<ImageRecord>('record', { id })
  const cold = await fetchPayload(reader, record, 0)
  if (cold.state !== PayloadState.Updated) throw new Error(`${id}: expected an Updated payload, got state ${cold.state}`)
  const plain = decrypt(cold.ciphertext, cold.key, cold.iv, cold.tag)
  if (cold.token === record.token) {
    const warm = await fetchPayload(reader, record, record.token)
    if (warm.state !== PayloadState.Success) throw new Error(`${id}: expected a Success payload, got state ${warm.state}`)
    const [key, iv, tag] = (['key', 'iv', 'tag'] as const).map((k) => Buffer.from(record.meta[k], 'base64')) as [Buffer, Buffer, Buffer]
    if (!decrypt(warm.ciphertext, key, iv, tag).equals(plain)) throw new Error(`${id}: the record's key gives other bytes`)
  }
  return sha256(plain)
}

/**
 * Saves and updates images through the given processes one after another, reading another
 * image back through a different process after each write, until stopped. Every failure is kept.
 */
function startLoad(apps: () => Instance[], expected = new Map<string, string>()) {
  const ids = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']
  const failures: string[] = []
  let writes = 0
  let reads = 0
  let stopped = false
  const done = (async () => {
    for (let v = 0; !stopped; v++) {
      const list = apps()
      const writer = list[v % list.length]!
      const reader = list[(v + 1) % list.length]!
      const id = ids[v % ids.length]!
      const image = samplePicture(v, 40)
      try {
        const args = { id, image: image.toString('base64') }
        await writer.call(expected.has(id) ? 'update' : 'save', args)
        expected.set(id, await sha256(image))
        writes++
        const other = ids[(v * 5 + 3) % ids.length]!
        if (expected.has(other)) {
          const got = await readBack(writer, reader, other)
          if (got !== expected.get(other)) throw new Error(`${other}: read back other bytes than were acknowledged`)
          reads++
        }
      } catch (error) {
        failures.push(`op ${v} (${id}): ${(error as Error).message}`)
      }
    }
  })()
  return {
    expected,
    failures,
    counts: () => ({ writes, reads }),
    async stop() {
      stopped = true
      await done
    },
  }
}

describe('key rotation while app processes run, on the embedded store with keys in the data directory', () => {
  const started: Instance[] = []
  let work: ReturnType<typeof tempDir> | undefined
  afterEach(async () => {
    await Promise.all(started.splice(0).map((app) => app.stop().catch(() => app.child.kill())))
    work?.remove()
  })

  for (const count of [1, 2]) {
    it(`loses nothing and fails no request while the CLI rotates the master key 3 times and the proof secret twice (${count} process${count > 1 ? 'es' : ''})`, async () => {
      work = tempDir()
      const dataDir = work.dir
      const env = { ...baseEnv }
      const start = async () => {
        const apps = await Promise.all(Array.from({ length: count }, () => startInstance({ dataDir }, env)))
        started.push(...apps)
        return apps
      }
      let apps = await start()
      const load = startLoad(() => apps)
      await sleep(500)
      // Every running process has recorded itself with the key it holds.
      const listed = JSON.parse((await cli(['instances', '--json', '--data-dir', dataDir], env)).stdout) as { pid: number; masterKeyIds: string[] }[]
      expect(listed.map((i) => i.pid).sort()).toEqual(apps.map((app) => app.child.pid).sort())
      const firstKey = fs.readFileSync(path.join(dataDir, 'master-keys'), 'utf8').split(':')[0]
      for (const instance of listed) expect(instance.masterKeyIds).toEqual([firstKey])

      const steps = ['rotate-master-key', 'rotate-proof-secret', 'rotate-master-key', 'rotate-proof-secret', 'rotate-master-key']
      const keyIds = new Set<string>()
      for (const step of steps) {
        const result = await cli([step, '--data-dir', dataDir], env)
        expect(result, `${step}: ${result.stdout}${result.stderr}`).toMatchObject({ code: 0 })
        if (step === 'rotate-master-key') {
          expect(result.stdout).toContain('the old keys were removed from the data directory')
          const lines = fs.readFileSync(path.join(dataDir, 'master-keys'), 'utf8').split('\n').filter(Boolean)
          expect(lines).toHaveLength(1)
          keyIds.add(lines[0]!.split(':')[0]!)
        }
        await sleep(300)
      }
      expect(keyIds.size).toBe(3)
      // Load keeps going a while after the last rotation: the processes now hold only what the files say.
      await sleep(1500)
      await load.stop()
      expect(load.failures).toEqual([])
      expect(load.counts().writes).toBeGreaterThan(20)
      expect(load.counts().reads).toBeGreaterThan(10)

      // Every row is wrapped under the one key left, and the proof secret file kept what can still verify.
      const db = new Database(path.join(dataDir, 'pixstore.sqlite'), { readonly: true })
      const inUse = db.prepare('SELECT DISTINCT key_id FROM pixstore_images').pluck().all()
      db.close()
      expect(inUse).toEqual([[...keyIds][2]])

      // Restart every process: every acknowledged image decrypts to what was acknowledged.
      await Promise.all(started.splice(0).map((app) => app.stop()))
      apps = await start()
      for (const [id, hash] of load.expected) {
        expect(await readBack(apps[0]!, apps[apps.length - 1]!, id)).toBe(hash)
      }
      const verified = await cli(['verify', '--data-dir', dataDir], env)
      expect(verified.stdout).toContain(`${load.expected.size} checked, ${load.expected.size} ok, 0 failed`)
      expect(verified.code).toBe(0)
    }, 120_000)
  }
})

describe.runIf(await postgresAvailable())('key rotation while app processes run, on PostgreSQL and S3 with keys from the environment', () => {
  it('refuses to rewrap while a process lacks the new key, then rotates under load with nothing lost', async () => {
    const newKey = (id: string) => `${id}:${randomBytes(32).toString('base64')}`
    const [k1, k2] = [newKey('k1'), newKey('k2')]
    const secret = randomBytes(32).toString('base64url')
    const { schema, drop } = testSchema()
    const s3 = await startS3()
    const settings = { pgUrl, schema, s3: s3.options }
    const envWith = (keys: string) => ({ ...baseEnv, PIXSTORE_PROOF_SECRET: secret, PIXSTORE_MASTER_KEY: keys })
    const cliEnv = (keys: string) => ({ ...envWith(keys), AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' })
    const storeArgs = ['--pg-url', pgUrl, '--pg-schema', schema, '--s3-bucket', s3.bucket, '--s3-endpoint', s3.endpoint, '--s3-path-style']
    const keyIdsInRows = async () => {
      const client = new pg.Client({ connectionString: pgUrl })
      await client.connect()
      try {
        const { rows } = await client.query<{ key_id: string }>(`SELECT DISTINCT key_id FROM "${schema}".pixstore_images ORDER BY key_id`)
        return rows.map((row) => row.key_id)
      } finally {
        await client.end()
      }
    }
    const apps: Instance[] = []
    try {
      apps.push(...(await Promise.all([startInstance(settings, envWith(k1)), startInstance(settings, envWith(k1))])))
      const load = startLoad(() => apps)
      await sleep(800)

      // The processes hold only k1: rewrapping under k2 would make them fail every read.
      const refused = await cli(['rotate-master-key', ...storeArgs, '--wait', '1'], cliEnv(`${k2},${k1}`))
      expect(refused.code).toBe(1)
      expect(refused.stdout).toContain('2 running process(es) do not hold master key "k2"')
      expect(await keyIdsInRows()).toEqual(['k1'])

      // Add k2 to every process (a rolling restart, k1 still first), then rotate: nothing may fail meanwhile.
      await load.stop()
      expect(load.failures).toEqual([])
      for (const [i, app] of [...apps].entries()) {
        await app.stop()
        apps[i] = await startInstance(settings, envWith(`${k1},${k2}`))
      }
      const during = startLoad(() => apps, load.expected)
      await sleep(500)
      const rotated = await cli(['rotate-master-key', ...storeArgs], cliEnv(`${k2},${k1}`))
      expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0)
      expect(rotated.stdout).toContain('no image needs k1 any more: remove them from PIXSTORE_MASTER_KEY of every process')
      await sleep(1000)
      await during.stop()
      expect(during.failures).toEqual([])
      expect(during.counts().writes).toBeGreaterThan(5)
      // k1 is retired: even the processes that list it first wrap under k2 now.
      expect(await keyIdsInRows()).toEqual(['k2'])

      // Restart with k2 alone: every acknowledged image decrypts.
      for (const [i, app] of [...apps].entries()) {
        await app.stop()
        apps[i] = await startInstance(settings, envWith(k2))
      }
      const expected = during.expected
      for (const [id, hash] of expected) expect(await readBack(apps[0]!, apps[1]!, id)).toBe(hash)
      const verified = await apps[1]!.call<{ failures: unknown[]; checked: number }>('verify')
      expect(verified).toMatchObject({ failures: [], checked: expected.size })
    } finally {
      await Promise.all(apps.map((app) => app.stop().catch(() => app.child.kill())))
      await s3.stop()
      await drop()
    }
  }, 120_000)
})
