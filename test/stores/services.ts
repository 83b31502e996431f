import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutBucketCorsCommand, S3Client } from '@aws-sdk/client-s3'
import pg from 'pg'
import S3rver from 's3rver'
import type { S3BlobStoreOptions } from 'pixstore/backend'

/** The PostgreSQL server the tests use. */
export const pgUrl = process.env.PIXSTORE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Whether the PostgreSQL tests run. An unreachable server fails them with a message saying
 * how to provide one, unless PIXSTORE_SKIP_PG=1 is set; then they say loudly that they were skipped.
 */
export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch (error) {
    if (process.env.PIXSTORE_SKIP_PG === '1') {
      console.warn(`\n*** POSTGRESQL TESTS SKIPPED: ${pgUrl} is not reachable and PIXSTORE_SKIP_PG=1 is set. ***\n`)
      return false
    }
    throw new Error(
      `PostgreSQL is not reachable at ${pgUrl} (${(error as Error).message}). Start one, or point PIXSTORE_TEST_PG_URL ` +
        'at a database the tests may create schemas in; PIXSTORE_SKIP_PG=1 skips these tests.',
    )
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** A fresh schema name, and a function that drops it. */
export function testSchema(): { schema: string; drop: () => Promise<void> } {
  const schema = `pixstore_t${process.pid}_${randomBytes(4).toString('hex')}`
  return {
    schema,
    async drop() {
      const client = new pg.Client({ connectionString: pgUrl })
      await client.connect()
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      } finally {
        await client.end()
      }
    },
  }
}

/** An S3-compatible server (s3rver) on a free loopback port, with a bucket of its own. */
export async function startS3({ cors = false } = {}): Promise<{ options: S3BlobStoreOptions; endpoint: string; bucket: string; stop: () => Promise<void> }> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'pixstore-s3-'))
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory })
  const { port } = await server.run()
  const endpoint = `http://127.0.0.1:${port}`
  const bucket = `pixstore-test-${randomBytes(4).toString('hex')}`
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  // The bucket CORS rule the scaling guide gives for redirect delivery.
  if (cors) {
    await client.send(
      new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'], MaxAgeSeconds: 86400 }] } }),
    )
  }
  return {
    endpoint,
    bucket,
    options: { bucket, endpoint, region: 'us-east-1', forcePathStyle: true, credentials },
    async stop() {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
      for (const object of listed.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }))
      await client.send(new DeleteBucketCommand({ Bucket: bucket }))
      client.destroy()
      await server.close()
      fs.rmSync(directory, { recursive: true, force: true })
    },
  }
}
