import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import { ownProperties } from '../../../shared/options.js'
import { PixstoreError } from '../../../shared/errors.js'
import type { BlobStore } from '../blob-store.js'
import { assertInstalled, loadOptional } from '../optional-dependency.js'

/**
 * What Pixstore uses of an `@aws-sdk/client-s3` `S3Client`; an `S3Client` is one. Declared
 * here, so that these types compile in apps that do not install the SDK.
 */
export interface S3ClientLike {
  send(command: object): Promise<unknown>
  destroy(): void
}

/** Options of the S3-compatible blob store. */
export interface S3BlobStoreOptions {
  /** The bucket; it must exist. */
  bucket: string
  /** Prefix of every object key. Default `pixstore/`. */
  prefix?: string
  /** Endpoint of an S3-compatible server (MinIO, R2, Ceph RGW); omit for AWS S3. */
  endpoint?: string
  /** Region. Default `us-east-1`. */
  region?: string
  /** Path-style URLs (`endpoint/bucket/key`), which most self-hosted servers need. Default `false`. */
  forcePathStyle?: boolean
  /** Credentials; omit to use the SDK's usual chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /** A connection to the server that takes longer is abandoned, in ms. Default 5000. */
  connectTimeoutMs?: number
  /** A request on which nothing arrives for this long is abandoned, in ms. Default 30000. */
  requestTimeoutMs?: number
  /** Attempts per request, the first included (the SDK retries failures with backoff). Default 3. */
  maxAttempts?: number
  /** Further settings of the SDK's `S3ClientConfig` (a request handler of its own, say), those above aside. */
  clientConfig?: { readonly [setting: string]: unknown }
  /** A whole `S3Client` to use instead (it is not destroyed by `close`). */
  client?: S3ClientLike
  /**
   * Redirect delivery: the image route answers a client that holds an image's current
   * version (the usual cold load) with a redirect to the object, so that its bytes never
   * pass through Node. By default to a presigned GET URL valid for `expiresInSeconds`
   * (default 60; needs `@aws-sdk/s3-request-presigner`); with `publicBaseUrl`, to
   * `publicBaseUrl` + the object's key (a bucket served through a CDN). The bucket must
   * allow GET from any origin (CORS): see the scaling guide.
   */
  redirect?: { expiresInSeconds?: number; publicBaseUrl?: string }
}

const keyPattern = /^[0-9a-f]{32}$/

const isMissing = (error: unknown) => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } }
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404
}

/**
 * A blob store on S3 or an S3-compatible server (`@aws-sdk/client-s3`, an optional peer
 * dependency loaded on first use). Each image version is its own object, never
 * overwritten; the image route streams objects into responses.
 */
export function createS3BlobStore(given: S3BlobStoreOptions): BlobStore {
  const options = ownProperties(given)
  if (typeof options.bucket !== 'string' || options.bucket.length < 3) {
    throw new PixstoreError('INVALID_CONFIG', 'createS3BlobStore: option "bucket" must name a bucket')
  }
  const prefix = options.prefix ?? 'pixstore/'
  assertInstalled('@aws-sdk/client-s3', 'The S3 blob store')
  const redirect = options.redirect && ownProperties(options.redirect)
  const expiresIn = redirect?.expiresInSeconds ?? 60
  if (redirect) {
    const base = redirect.publicBaseUrl
    if (base !== undefined && !/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(base)) {
      throw new PixstoreError('INVALID_CONFIG', 'createS3BlobStore: redirect.publicBaseUrl must be an http(s) URL such as "https://cdn.example.com/images/"')
    }
    if (!Number.isSafeInteger(expiresIn) || expiresIn < 1 || expiresIn > 604_800) {
      throw new PixstoreError('INVALID_CONFIG', 'createS3BlobStore: redirect.expiresInSeconds must be a whole number of seconds from 1 to 604800')
    }
    if (base === undefined) assertInstalled('@aws-sdk/s3-request-presigner', 'Redirect delivery with presigned URLs')
  }
  const presigner = () => loadOptional('@aws-sdk/s3-request-presigner', () => import('@aws-sdk/s3-request-presigner'), 'Redirect delivery with presigned URLs')
  const sdk = () => loadOptional('@aws-sdk/client-s3', () => import('@aws-sdk/client-s3'), 'The S3 blob store')
  let client: Promise<S3Client> | undefined
  const getClient = () =>
    (client ??= options.client
      ? Promise.resolve(options.client as unknown as S3Client)
      : sdk().then(
          (s3) =>
            new s3.S3Client({
              // Checksums only where the API requires them: several S3-compatible servers
              // reject the newer default of a checksum trailer on every upload.
              requestChecksumCalculation: 'WHEN_REQUIRED',
              responseChecksumValidation: 'WHEN_REQUIRED',
              // Every wait is bounded: an object store that stops answering fails requests
              // (after retries) instead of holding them and their sockets.
              maxAttempts: options.maxAttempts ?? 3,
              requestHandler: {
                connectionTimeout: options.connectTimeoutMs ?? 5000,
                requestTimeout: options.requestTimeoutMs ?? 30_000,
                throwOnRequestTimeout: true,
              },
              ...(options.clientConfig as Omit<S3ClientConfig, 'region'> | undefined),
              region: options.region ?? 'us-east-1',
              endpoint: options.endpoint,
              forcePathStyle: options.forcePathStyle ?? false,
              credentials: options.credentials,
            }),
        ))

  const objectKey = (key: string) => {
    if (!keyPattern.test(key)) throw new PixstoreError('INTERNAL', 'Malformed blob key')
    return prefix + key
  }
  const fail = (what: string, cause: unknown) =>
    new PixstoreError('STORAGE_FAILED', `S3 failed to ${what} an encrypted image: ${(cause as Error).message ?? cause}`, { cause })

  return {
    async write(key, bytes) {
      const [s3, c] = [await sdk(), await getClient()]
      try {
        await c.send(new s3.PutObjectCommand({ Bucket: options.bucket, Key: objectKey(key), Body: bytes, ContentLength: bytes.byteLength }))
      } catch (cause) {
        throw fail('write', cause)
      }
    },
    read(key) {
      return this.readWithRoom!(key, 0)
    },
    async readWithRoom(key, room, _size, allocate = Buffer.allocUnsafe) {
      const opened = await this.open!(key)
      if (!opened) return undefined
      const out = allocate(room + opened.size)
      let filled = room
      for await (const chunk of opened.body) {
        if (filled + chunk.byteLength > out.length) throw fail('read', new Error('the object is longer than announced'))
        out.set(chunk, filled)
        filled += chunk.byteLength
      }
      return out.subarray(0, filled)
    },
    async open(key) {
      const [s3, c] = [await sdk(), await getClient()]
      try {
        const object = await c.send(new s3.GetObjectCommand({ Bucket: options.bucket, Key: objectKey(key) }))
        return { size: object.ContentLength ?? 0, body: object.Body as AsyncIterable<Uint8Array> }
      } catch (cause) {
        if (isMissing(cause)) return undefined
        throw fail('read', cause)
      }
    },
    async delete(key) {
      const [s3, c] = [await sdk(), await getClient()]
      try {
        await c.send(new s3.DeleteObjectCommand({ Bucket: options.bucket, Key: objectKey(key) }))
      } catch (cause) {
        if (!isMissing(cause)) throw fail('delete', cause)
      }
    },
    async *list() {
      const [s3, c] = [await sdk(), await getClient()]
      let token: string | undefined
      do {
        let page
        try {
          page = await c.send(new s3.ListObjectsV2Command({ Bucket: options.bucket, Prefix: prefix, ContinuationToken: token }))
        } catch (cause) {
          throw fail('list', cause)
        }
        for (const object of page.Contents ?? []) {
          const key = object.Key?.slice(prefix.length) ?? ''
          if (keyPattern.test(key)) yield { key, size: object.Size ?? 0, modifiedAt: object.LastModified?.getTime() ?? 0 }
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
    },
    locate: redirect
      ? async (key) => {
          if (redirect.publicBaseUrl !== undefined) return redirect.publicBaseUrl.replace(/\/?$/, '/') + objectKey(key)
          const [s3, c, { getSignedUrl }] = [await sdk(), await getClient(), await presigner()]
          return getSignedUrl(c, new s3.GetObjectCommand({ Bucket: options.bucket, Key: objectKey(key) }), { expiresIn })
        }
      : undefined,
    async check() {
      const [s3, c] = [await sdk(), await getClient()]
      try {
        await c.send(new s3.HeadBucketCommand({ Bucket: options.bucket }))
      } catch (cause) {
        throw new PixstoreError('STORAGE_FAILED', `S3 bucket "${options.bucket}" cannot be reached: ${(cause as Error).message ?? cause}`, { cause })
      }
    },
    async close() {
      if (!options.client && client) (await client.catch(() => undefined))?.destroy()
    },
  }
}
