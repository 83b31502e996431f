import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPixstoreBackend, createPostgresMetadataStore, createS3BlobStore, type PixstoreBackend } from 'pixstore/backend'
import type { ImageRecord } from 'pixstore/types'
import { samplePicture } from '../../demo/sample-images.js'
import { tempDir } from '../helpers.js'
import { pgUrl, postgresAvailable, startS3, testSchema } from './services.js'

const run = promisify(execFile)

describe.runIf(await postgresAvailable())('pixstore migrate', () => {
  const data = tempDir()
  const { schema, drop } = testSchema()
  let s3: Awaited<ReturnType<typeof startS3>>
  let source: PixstoreBackend

  const migrate = async () => {
    const args = ['dist/cli/index.js', 'migrate', '--from', data.dir, '--to', pgUrl, '--pg-schema', schema, '--s3-bucket', s3.bucket]
    args.push('--s3-endpoint', s3.endpoint, '--s3-path-style', '--json')
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }
    const { stdout, stderr, code } = await run(process.execPath, args, { env }).then(
      (done) => ({ ...done, code: 0 }),
      (failed: { stdout: string; stderr: string; code: number }) => failed,
    )
    return { code, report: JSON.parse(stdout) as { source: number; copied: number; alreadyThere: number; conflicts: string[]; sampled: number; sampleMismatches: string[] }, stderr }
  }
  const destination = () =>
    createPixstoreBackend({
      metadataStore: createPostgresMetadataStore({ connectionString: pgUrl, schema }),
      blobStore: createS3BlobStore(s3.options),
    })
  const plaintextOf = async (backend: PixstoreBackend, record: ImageRecord) => {
    const fresh = (await backend.getImageRecordAsync(record.id))!
    return { token: fresh.token, key: fresh.meta.key, payload: Buffer.from(await backend.customEndpointHelper(record.id, fresh.token, fresh.statelessProof)) }
  }

  beforeAll(async () => {
    s3 = await startS3()
    source = createPixstoreBackend({ dataDir: path.join(data.dir) })
  }, 60_000)
  afterAll(async () => {
    await source?.close()
    await s3?.stop()
    await drop()
    data.remove()
  })

  it('fails, even from an empty source, when the destination database or bucket cannot be reached', async () => {
    const empty = tempDir()
    try {
      const fresh = createPixstoreBackend({ dataDir: empty.dir })
      await fresh.close()
      const env = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }
      const attempt = (to: string, bucket: string) =>
        run(process.execPath, ['dist/cli/index.js', 'migrate', '--from', empty.dir, '--to', to, '--pg-schema', schema, '--s3-bucket', bucket, '--s3-endpoint', s3.endpoint, '--s3-path-style'], { env }).then(
          () => ({ code: 0, stderr: '' }),
          (failed: { code: number; stderr: string }) => failed,
        )
      const noDatabase = await attempt('postgres://postgres@127.0.0.1:1/nothing', s3.bucket)
      expect(noDatabase.code).toBe(2)
      expect(noDatabase.stderr).toContain('STORAGE_FAILED')
      const noBucket = await attempt(pgUrl, 'no-such-bucket-here')
      expect(noBucket.code).toBe(2)
    } finally {
      empty.remove()
    }
  })

  it('copies every image with its token and keys, verifies a sample, and a second run copies nothing', async () => {
    const records: ImageRecord[] = []
    for (let i = 0; i < 25; i++) records.push((await source.saveImage(samplePicture(i, 32), i % 2 ? 'avatars' : undefined))!)
    records[3] = (await source.updateImage(records[3]!.id, samplePicture(99, 32)))!
    // One with variants: they travel with it.
    records[5] = (await source.updateImage(records[5]!.id, samplePicture(5, 32), { variants: { widths: [16], formats: ['webp', 'avif'] } }))!
    expect(records[5].variants).toHaveLength(2)
    const variantPayload = async (backend: PixstoreBackend, name: string) => {
      const fresh = (await backend.getImageRecordAsync(records[5]!.id))!
      return Buffer.from(await backend.customEndpointHelper(fresh.id, fresh.token, fresh.statelessProof, { variant: name }))
    }

    const { report, stderr, code } = await migrate()
    expect(code).toBe(0)
    expect(report).toMatchObject({ source: 25, copied: 25, alreadyThere: 0, conflicts: [], sampled: 20, sampleMismatches: [] })
    // No progress bar when stderr is not a terminal.
    expect(stderr).not.toMatch(/migrate \d/)

    const target = destination()
    try {
      for (const record of records) {
        const there = await plaintextOf(target, record)
        const here = await plaintextOf(source, record)
        expect(there.token).toBe(record.token)
        expect(there.key).toBe(here.key)
        expect(there.payload).toEqual(here.payload)
      }
      for (const name of ['16.webp', '16.avif']) {
        const there = await variantPayload(target, name)
        expect(there[0]).toBe(7)
        expect(there).toEqual(await variantPayload(source, name))
      }
      // New versions written on the destination get tokens above the imported ones.
      const next = (await target.updateImage(records[0]!.id, samplePicture(50, 32)))!
      expect(next.token).toBeGreaterThan(Math.max(...records.map((r) => r.token)))
      expect((await target.verify()).failures).toEqual([])
    } finally {
      await target.close()
    }

    // Image 0 was updated on the destination since: a conflict, reported with exit code 1.
    const again = await migrate()
    expect(again.code).toBe(1)
    expect(again.report).toMatchObject({ source: 25, copied: 0, alreadyThere: 24, conflicts: [records[0]!.id] })
  }, 120_000)

  it('resumes: a later run copies only what the earlier one did not', async () => {
    for (let i = 0; i < 5; i++) await source.saveImage(samplePicture(200 + i, 32), 'late')
    const { report } = await migrate()
    expect(report).toMatchObject({ source: 30, copied: 5, alreadyThere: 24, sampleMismatches: [] })
  }, 120_000)
})
