// The image route under load: Pixstore's node handler beside two plain node:http file
// servers that send the very same bytes. Every server runs in a process of its own
// (bench/servers/http-server.ts); autocannon runs here, so the load generator, Pixstore
// and the baselines never share an event loop.

import { fork, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { benchImages } from './lib/images.js'
import { summarise, type Figure } from './lib/measure.js'
import { record, section } from './lib/report.js'
import type { SavedImage, ServerOptions } from './servers/http-server.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const serverScript = fileURLToPath(new URL('./servers/http-server.ts', import.meta.url))

// ---------------------------------------------------------------------------------------
// Child processes and temp dirs, cleaned up whatever happens.

const children = new Set<ChildProcess>()
const tempDirs = new Set<string>()

function cleanupSync(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  children.clear()
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

let hooked = false
function hookCleanup(): void {
  if (hooked) return
  hooked = true
  process.once('exit', cleanupSync)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the bench servers`)
      cleanupSync()
      process.exit(130)
    })
  }
}

/** A new temp dir, removed by {@link removeTempDir} or at exit. */
export function makeTempDir(prefix: string): string {
  hookCleanup()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

/** A bench server in its own process. */
export interface ServerProcess {
  mode: ServerOptions['mode']
  port: number
  /** The `ready` message: for Pixstore, `images` and `route`; for s3, `endpoint` and `bucket`. */
  info: Record<string, unknown>
  pid: number
  /** Starts a new peak-RSS window. */
  rssReset(): Promise<void>
  /** The peak RSS of the window so far, in bytes. */
  rssPeak(): Promise<number>
  /** CPU time the process has used and bytes it has written to clients, so far. */
  usage(): Promise<{ cpuMs: number; bytesWritten: number }>
  close(): Promise<void>
}

type Message = { type?: string } & Record<string, unknown>

function waitFor(child: ChildProcess, type: string, timeoutMs: number): Promise<Message> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error, message?: Message) => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      if (error) reject(error)
      else resolve(message!)
    }
    const onMessage = (message: Message) => {
      if (message.type === type) done(undefined, message)
      else if (message.type === 'failed') done(new Error(`bench server failed: ${String(message.message)}`))
    }
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`bench server exited (${signal ?? `code ${code}`}) while waiting for "${type}"`))
    const timer = setTimeout(() => done(new Error(`bench server gave no "${type}" within ${timeoutMs} ms`)), timeoutMs)
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

/** Forks bench/servers/http-server.ts in `options.mode` and waits until it listens. */
export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  hookCleanup()
  const child = fork(serverScript, [JSON.stringify(options)], {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  let info: Message
  try {
    info = await waitFor(child, 'ready', 120_000)
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  const ask = async (type: string, reply: string) => {
    const answer = waitFor(child, reply, 10_000)
    child.send({ type })
    return answer
  }
  return {
    mode: options.mode,
    port: info.port as number,
    info,
    pid: child.pid!,
    async rssReset() {
      await ask('rss-reset', 'rss-reset-done')
    },
    async rssPeak() {
      return (await ask('rss', 'rss')).max as number
    },
    async usage() {
      const answer = await ask('usage', 'usage')
      return { cpuMs: answer.cpuMs as number, bytesWritten: answer.bytesWritten as number }
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.send({ type: 'close' })
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Writes the three bench images into `dir` as `small`, `medium` and `large`, for a Pixstore server to save. */
export function writeBenchImages(dir: string): NonNullable<ServerOptions['images']> {
  fs.mkdirSync(dir, { recursive: true })
  return benchImages().map((image, i) => {
    const id = (['small', 'medium', 'large'] as const)[i]!
    const file = path.join(dir, `${id}.${image.format === 'png' ? 'png' : 'jpg'}`)
    fs.writeFileSync(file, image.bytes)
    return { id, label: image.label, file }
  })
}

// ---------------------------------------------------------------------------------------
// Load runs.

/** What one autocannon run measured. */
export interface LoadResult {
  /** Completed requests per second over the run. */
  rps: number
  /** Bytes received per second (headers and bodies), in MB/s. */
  mbps: number
  /** 99th percentile latency, ms. */
  p99: number
  completed: number
  non2xx: number
  errors: number
  timeouts: number
  /** Bytes received per completed response, headers included. */
  bytesPerResponse: number
}

/** One autocannon run of `durationSeconds` against `url` with `connections` connections, pipelining 1. */
export async function loadRun(url: string, connections: number, durationSeconds: number, headers: Record<string, string> = {}): Promise<LoadResult> {
  const result = await autocannon({
    url,
    connections,
    duration: durationSeconds,
    pipelining: 1,
    headers,
    // autocannon 9 decodes every body chunk as UTF-8 and appends it to a string (for its
    // expectBody and verifyBody options, unused here). On binary bodies that caps the load
    // generator at about 40 MB/s, well below what the servers send: it would measure
    // itself. Dropping the body (the byte count and status are kept) lifts that cap.
    setupClient: (client) => {
      ;(client as unknown as { pipelinedRequests: { addBody: (data: unknown) => void } }).pipelinedRequests.addBody = () => undefined
    },
  })
  const seconds = result.duration > 0 ? result.duration : durationSeconds
  const completed = result.requests.total
  return {
    rps: completed / seconds,
    mbps: result.throughput.total / seconds / 1e6,
    p99: result.latency.p99,
    completed,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    bytesPerResponse: completed > 0 ? result.throughput.total / completed : 0,
  }
}

/**
 * Warns (one line) if a run got anything but complete 200 answers of `expectedBytes`:
 * Pixstore answers a refused request with 200 too (and a 1-byte payload), so the size
 * matters. When nothing completed, it also asks the server for the same URL once more,
 * alone: a server that does not answer that either has stalled, which the figures alone
 * would not tell.
 */
export async function checkRun(what: string, run: LoadResult, expectedBytes: number, probe: { url: string; headers: Record<string, string> }): Promise<void> {
  const problems: string[] = []
  if (run.completed === 0) {
    problems.push('no request completed')
    if (!(await answersAlone(probe.url, probe.headers, 5000))) problems.push('and the server no longer answers a lone request within 5 s: it has stalled')
  }
  if (run.non2xx > 0) problems.push(`${run.non2xx} non-2xx responses`)
  if (run.errors > 0) problems.push(`${run.errors} errors (${run.timeouts} timeouts)`)
  // Each response is its body plus a few hundred bytes of headers.
  if (run.completed > 0 && (run.bytesPerResponse < expectedBytes || run.bytesPerResponse > expectedBytes + 1024)) {
    problems.push(`${Math.round(run.bytesPerResponse)} bytes a response where the payload is ${expectedBytes}`)
  }
  if (problems.length) console.warn(`WARNING ${what}: ${problems.join('; ')}`)
}

async function answersAlone(url: string, headers: Record<string, string>, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) })
    await response.arrayBuffer()
    return response.status === 200
  } catch {
    return false
  }
}

/** Fetches `url` once and checks it answers 200 with exactly `expected`. */
export async function verifyResponse(what: string, url: string, headers: Record<string, string>, expected: Uint8Array): Promise<void> {
  const response = await fetch(url, { headers })
  const body = new Uint8Array(await response.arrayBuffer())
  if (response.status !== 200 || body.byteLength !== expected.byteLength || !Buffer.from(body).equals(expected)) {
    throw new Error(
      `${what}: expected 200 with the ${expected.byteLength}-byte payload (state ${expected[0]}), got ${response.status} ` +
        `with ${body.byteLength} bytes (state ${body[0]})`,
    )
  }
}

/** Bytes in MiB (RSS figures). */
export const mb = (bytes: number) => bytes / (1024 * 1024)

/** Pixstore's URL and request headers for an image, for a Success (current token) or Updated (no token) payload. */
export function pixstoreRequest(server: ServerProcess, image: SavedImage, kind: 'Success' | 'Updated'): { url: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { 'x-pixstore-proof': image.proof }
  if (kind === 'Success') headers['x-pixstore-token'] = String(image.token)
  return { url: `http://127.0.0.1:${server.port}${String(server.info.route)}/${encodeURIComponent(image.id)}`, headers }
}

/**
 * The length of one run. With 100 connections on the 5 MB image a single round of
 * responses takes about as long as a whole normal run (100 × 5 MB at a few hundred MB/s),
 * and autocannon counts only completed responses: such runs are made longer, so that
 * each holds a few rounds rather than zero or one.
 */
export function runSeconds(base: number, payloadBytes: number, connections: number, quick: boolean, long = quick ? 2.5 : 3): number {
  return payloadBytes * connections > 100e6 ? Math.max(base, long) : base
}

const reqsTarget = { text: '>= 0.9 × baseline', met: (ratio: number) => ratio >= 0.9 }

// ---------------------------------------------------------------------------------------
// The bench.

export async function runHttpBench(options: { quick?: boolean }): Promise<void> {
  const quick = options.quick === true
  const duration = quick ? 1 : 2
  const reps = 3
  const connectionCounts = [10, 100]
  const kinds = ['Success', 'Updated'] as const

  section(
    `HTTP image route under load (autocannon ${duration} s × ${reps} runs a case, ${runSeconds(duration, 1e9, 1, quick)} s for 5 MB × 100 conn; pipelining 1; each server in its own process)`,
    'node:http + fs.readFile of a file holding the same payload bytes, rows "(vs stream)": node:http + fs.createReadStream(file).pipe(res); MB/s counts headers too',
  )
  const started = Date.now()
  const tmp = makeTempDir('pixstore-bench-http-')
  const filesDir = path.join(tmp, 'files')
  fs.mkdirSync(filesDir)
  const servers: ServerProcess[] = []
  try {
    const pixstore = await startServer({ mode: 'pixstore', dataDir: path.join(tmp, 'data'), filesDir, images: writeBenchImages(path.join(tmp, 'source')) })
    servers.push(pixstore)
    const [readFile, stream] = await Promise.all([startServer({ mode: 'readfile', filesDir }), startServer({ mode: 'stream', filesDir })])
    servers.push(readFile, stream)
    const images = pixstore.info.images as SavedImage[]
    const rssAtRest = (server: ServerProcess) => `${mb(server.info.rss as number).toFixed(0)} MB`
    console.log(
      `(server processes: Pixstore pid ${pixstore.pid} (${rssAtRest(pixstore)} RSS at rest), readFile pid ${readFile.pid} (${rssAtRest(readFile)}), ` +
        `stream pid ${stream.pid} (${rssAtRest(stream)}); load generator pid ${process.pid})`,
    )

    // Every server sends the same bytes for every case, or the comparison means nothing.
    const request = (server: ServerProcess, image: SavedImage, kind: (typeof kinds)[number]) =>
      server === pixstore
        ? pixstoreRequest(server, image, kind)
        : { url: `http://127.0.0.1:${server.port}/file/${path.basename(kind === 'Success' ? image.successFile! : image.updatedFile!)}`, headers: {} }
    for (const image of images) {
      for (const kind of kinds) {
        const expected = fs.readFileSync(kind === 'Success' ? image.successFile! : image.updatedFile!)
        for (const server of servers) {
          const { url, headers } = request(server, image, kind)
          await verifyResponse(`${server.mode} ${image.id} ${kind}`, url, headers, expected)
        }
      }
    }

    // Warm up every server on every size (JIT, file cache, sockets).
    for (const image of images) {
      for (const server of servers) {
        const { url, headers } = request(server, image, 'Updated')
        await loadRun(url, 10, 0.3, headers)
      }
    }

    const names = ['Pixstore', 'readFile', 'stream'] as const
    const rss = { pixstore: [] as number[], readFile: [] as number[] }
    for (const image of images) {
      for (const connections of connectionCounts) {
        for (const kind of kinds) {
          const expectedBytes = kind === 'Success' ? image.successBytes : image.updatedBytes
          const runs: Record<(typeof names)[number], LoadResult[]> = { Pixstore: [], readFile: [], stream: [] }
          const watchRss = image.id === 'large' && connections === 100
          for (let rep = 0; rep < reps; rep++) {
            // Alternate the servers so that noise hits all alike.
            for (const [i, server] of servers.entries()) {
              const name = names[i]!
              const { url, headers } = request(server, image, kind)
              const sampleRss = watchRss && name !== 'stream'
              if (sampleRss) await server.rssReset()
              const run = await loadRun(url, connections, runSeconds(duration, expectedBytes, connections, quick), headers)
              if (sampleRss) (name === 'Pixstore' ? rss.pixstore : rss.readFile).push(mb(await server.rssPeak()))
              await checkRun(`${name} ${image.label} ${kind} ${connections} conn run ${rep + 1}`, run, expectedBytes, { url, headers })
              runs[name].push(run)
            }
          }
          const fig = (name: (typeof names)[number], key: 'rps' | 'mbps' | 'p99'): Figure => summarise(runs[name].map((run) => run[key]))
          const workload = `image route ${kind}, ${connections} conn`
          record({ workload, size: image.label, unit: 'req/s', pixstore: fig('Pixstore', 'rps'), baseline: fig('readFile', 'rps'), baselineName: 'fs.readFile', better: 'higher', target: reqsTarget })
          record({ workload, size: image.label, unit: 'MB/s', pixstore: fig('Pixstore', 'mbps'), baseline: fig('readFile', 'mbps'), baselineName: 'fs.readFile', better: 'higher' })
          record({ workload, size: image.label, unit: 'ms p99', pixstore: fig('Pixstore', 'p99'), baseline: fig('readFile', 'p99'), baselineName: 'fs.readFile', better: 'lower' })
          record({
            workload: `${workload} (vs stream)`,
            size: image.label,
            unit: 'req/s',
            pixstore: fig('Pixstore', 'rps'),
            baseline: fig('stream', 'rps'),
            baselineName: 'fs.createReadStream().pipe(res)',
            better: 'higher',
            target: reqsTarget,
          })
        }
      }
    }

    const large = images.find((image) => image.id === 'large')!
    record({
      workload: 'server peak RSS, 100 conn (Success and Updated runs)',
      size: large.label,
      unit: 'MB',
      pixstore: summarise(rss.pixstore),
      baseline: summarise(rss.readFile),
      baselineName: 'fs.readFile server',
      better: 'lower',
      // Every run's peak, not just the median, must stay under the line.
      target: { text: '< 200 MB', met: (_ratio, row) => row.pixstore.max < 200 },
    })
    console.log(`(HTTP bench took ${((Date.now() - started) / 1000).toFixed(0)} s)`)
  } finally {
    await Promise.all(servers.map((server) => server.close().catch(() => undefined)))
    removeTempDir(tmp)
  }
}
