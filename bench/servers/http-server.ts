// One HTTP server of the HTTP benchmarks, in a process of its own so that it never shares
// an event loop with the load generator or with another server. Started by bench/http.ts
// and bench/scale.ts with `node --import tsx bench/servers/http-server.ts '<json options>'`;
// it answers over IPC:
//   child → parent  { type: 'ready', port, ... }   once listening (and, for Pixstore, once the images are saved)
//                   { type: 'failed', message }    if it could not start
//   parent → child  { type: 'rss-reset' }          starts a new peak-RSS window ({ type: 'rss-reset-done' })
//                   { type: 'rss' }                the peak RSS of the window, in bytes ({ type: 'rss', max, current })
//                   { type: 'usage' }              CPU time used and bytes written to clients so far ({ type: 'usage', cpuMs, bytesWritten })
//                   { type: 'close' }              closes everything and exits
// Modes:
//   pixstore   createPixstoreBackend (embedded, or on PostgreSQL + S3 with `shared`) served by createNodeHandler
//   readfile   node:http + fs.readFile of `/file/<name>` from `filesDir`
//   stream     node:http + fs.createReadStream(file).pipe(res) of `/file/<name>` from `filesDir`
//   s3         an s3rver with one bucket, for the scale-out bench

import fs from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import path from 'node:path'

/** What the parent passes as the first argument, as JSON. */
export interface ServerOptions {
  mode: 'pixstore' | 'readfile' | 'stream' | 's3'
  /** pixstore: the data directory; s3: the directory s3rver keeps its objects in. */
  dataDir?: string
  /** pixstore: where to write the payload files (omit to write none); readfile, stream: where to serve them from. */
  filesDir?: string
  /**
   * pixstore: the images to save, as files the parent wrote (generating them here would
   * leave the JPEG encoder's garbage in this process's RSS).
   */
  images?: { id: string; label: string; file: string }[]
  /** pixstore on PostgreSQL and S3 instead of the embedded stores. */
  shared?: {
    pgUrl: string
    schema: string
    s3: { endpoint: string; bucket: string }
    proofSecret: string
    masterKey: string
    /** Redirect delivery (S3's `redirect`): the ready message then gives each image's object URL. */
    redirect?: boolean
  }
}

/** One saved bench image, as the Pixstore server reports it. */
export interface SavedImage {
  id: string
  label: string
  token: number
  proof: string
  /** Payload lengths in bytes: `[0][ciphertext]` and `[1][header][ciphertext]`. */
  successBytes: number
  updatedBytes: number
  /** With redirect delivery: a presigned URL of the image's object. */
  objectUrl?: string
  /** The payload files written to `filesDir`, when it was given. */
  successFile?: string
  updatedFile?: string
}

const options = JSON.parse(process.argv[2] ?? '{}') as ServerOptions

const send = (message: object) => process.send?.(message)

// Peak RSS, sampled every 50 ms over a window the parent opens with `rss-reset`.
let peakRss = process.memoryUsage().rss
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
}, 50)
sampler.unref()

let closing: (() => Promise<void>) | undefined

process.on('message', (message: { type?: string }) => {
  if (message.type === 'rss-reset') {
    peakRss = process.memoryUsage().rss
    send({ type: 'rss-reset-done' })
  } else if (message.type === 'rss') {
    const current = process.memoryUsage().rss
    peakRss = Math.max(peakRss, current)
    send({ type: 'rss', max: peakRss, current })
  } else if (message.type === 'usage') {
    const { user, system } = process.cpuUsage()
    let bytesWritten = closedBytes
    for (const socket of sockets) bytesWritten += socket.bytesWritten
    send({ type: 'usage', cpuMs: (user + system) / 1000, bytesWritten })
  } else if (message.type === 'close') {
    void shutdown(0)
  }
})
// The parent went away (crashed, killed): do not linger.
process.on('disconnect', () => void shutdown(0))

async function shutdown(code: number): Promise<void> {
  const close = closing
  closing = undefined
  const timer = setTimeout(() => process.exit(code), 5000)
  timer.unref()
  try {
    await close?.()
  } catch (error) {
    console.error(`[bench server ${options.mode}] close failed: ${(error as Error).message}`)
  }
  process.exit(code)
}

// Every byte the servers write to their clients, headers included.
const sockets = new Set<Socket>()
let closedBytes = 0

function listen(server: Server): Promise<number> {
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => {
      closedBytes += socket.bytesWritten
      sockets.delete(socket)
    })
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })

async function startPixstore(): Promise<void> {
  const backendModule = await import('../../src/backend/index.js')
  const { createPixstoreBackend, createNodeHandler } = backendModule
  const shared = options.shared
  const backend = createPixstoreBackend({
    dataDir: options.dataDir,
    // Never-expiring proofs, so that the load run can reuse one record.
    statelessKeyWindowLength: -1,
    ...(shared
      ? {
          metadataStore: backendModule.createPostgresMetadataStore({ connectionString: shared.pgUrl, schema: shared.schema }),
          blobStore: backendModule.createS3BlobStore({
            bucket: shared.s3.bucket,
            endpoint: shared.s3.endpoint,
            region: 'us-east-1',
            forcePathStyle: true,
            credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
            redirect: shared.redirect ? { expiresInSeconds: 3600 } : undefined,
          }),
          statelessProofSecret: shared.proofSecret,
          masterKeys: shared.masterKey,
        }
      : {}),
  })
  const images: SavedImage[] = []
  for (const image of options.images ?? []) {
    const { id } = image
    const record = await backend.saveImageFromFile(image.file, { id })
    if (!record) throw new Error(`saving the ${image.label} image failed`)
    const success = await backend.customEndpointHelper(id, record.token, record.statelessProof)
    const updated = await backend.customEndpointHelper(id, undefined, record.statelessProof)
    if (success[0] !== 0 || updated[0] !== 1) throw new Error(`the payloads of ${id} have states ${success[0]} and ${updated[0]}, not 0 and 1`)
    const saved: SavedImage = {
      id,
      label: image.label,
      token: record.token,
      proof: record.statelessProof,
      successBytes: success.byteLength,
      updatedBytes: updated.byteLength,
    }
    if (shared?.redirect) {
      const located = await backend.serveImage(id, record.token, record.statelessProof, { locate: true })
      if (located.state !== 'located') throw new Error(`${id} was not located for redirect delivery`)
      saved.objectUrl = located.url
    }
    if (options.filesDir) {
      // The baselines serve these: the very bytes Pixstore sends, so both send as many.
      saved.successFile = path.join(options.filesDir, `${id}-success.bin`)
      saved.updatedFile = path.join(options.filesDir, `${id}-updated.bin`)
      fs.writeFileSync(saved.successFile, success)
      fs.writeFileSync(saved.updatedFile, updated)
    }
    images.push(saved)
  }
  const handler = createNodeHandler(backend)
  const server = createServer((req, res) => void handler(req, res))
  const port = await listen(server)
  closing = async () => {
    await closeServer(server)
    await backend.close()
  }
  send({ type: 'ready', port, images, route: backend.config.defaultEndpointRoute, rss: process.memoryUsage().rss })
}

async function startFileServer(mode: 'readfile' | 'stream'): Promise<void> {
  const dir = options.filesDir
  if (!dir) throw new Error('filesDir is required')
  // Only the files there at start-up are served, looked up by exact name: no path is built from the URL.
  const files = new Map(fs.readdirSync(dir).map((name) => [name, path.join(dir, name)]))
  const headers = (length: number) => ({
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(length),
    'Cache-Control': 'no-store',
  })
  const notFound = (res: ServerResponse) => res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found')
  const fail = (res: ServerResponse) => {
    if (res.headersSent) res.destroy()
    else res.writeHead(500, { 'Content-Type': 'text/plain' }).end('Internal error')
  }
  const fileOf = (req: IncomingMessage) => (req.url?.startsWith('/file/') ? files.get(req.url.slice(6)) : undefined)

  const readFileHandler = (req: IncomingMessage, res: ServerResponse) => {
    const file = fileOf(req)
    if (!file) return notFound(res)
    fs.readFile(file, (error, bytes) => {
      if (error) return fail(res)
      res.writeHead(200, headers(bytes.byteLength))
      res.end(bytes)
    })
  }
  // What a static file server does: stat for the length, then pipe a read stream.
  const streamHandler = (req: IncomingMessage, res: ServerResponse) => {
    const file = fileOf(req)
    if (!file) return notFound(res)
    fs.stat(file, (error, stat) => {
      if (error) return fail(res)
      res.writeHead(200, headers(stat.size))
      const stream = fs.createReadStream(file)
      stream.on('error', () => fail(res))
      res.on('close', () => stream.destroy())
      stream.pipe(res)
    })
  }
  const server = createServer(mode === 'readfile' ? readFileHandler : streamHandler)
  const port = await listen(server)
  closing = () => closeServer(server)
  send({ type: 'ready', port, rss: process.memoryUsage().rss })
}

async function startS3(): Promise<void> {
  const dir = options.dataDir
  if (!dir) throw new Error('dataDir is required')
  const [{ default: S3rver }, { S3Client, CreateBucketCommand }] = await Promise.all([import('s3rver'), import('@aws-sdk/client-s3')])
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir })
  const { port } = await server.run()
  const endpoint = `http://127.0.0.1:${port}`
  const bucket = 'pixstore-bench'
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  client.destroy()
  closing = () => server.close()
  send({ type: 'ready', port, endpoint, bucket })
}

const starters = { pixstore: startPixstore, readfile: () => startFileServer('readfile'), stream: () => startFileServer('stream'), s3: startS3 }

const start = starters[options.mode]
if (!start) {
  send({ type: 'failed', message: `unknown mode ${String(options.mode)}` })
  process.exit(1)
}
start().catch((error: unknown) => {
  console.error(`[bench server ${options.mode}] could not start: ${error instanceof Error ? error.message : String(error)}`)
  send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  void shutdown(1)
})
