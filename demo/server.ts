import fs from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import express, { type ErrorRequestHandler } from 'express'
import multer from 'multer'
import {
  closePixstoreBackend,
  deleteImage,
  getImageRecord,
  getImageRecords,
  initPixstoreBackend,
  pixstoreNodeHandler,
  saveImage,
} from 'pixstore/backend'
import { isPixstoreError, type PixstoreError } from 'pixstore/shared'
import type { ImageRecord } from 'pixstore/types'
import { browserBuild } from './browser-build.js'
import { samplePicture } from './sample-images.js'

const here = path.dirname(fileURLToPath(import.meta.url))

/** Options of the demo server. */
export interface DemoOptions {
  /** Port to listen on; 0 picks a free one. Default `PORT` or 3000. */
  port?: number
  /** Folder for the demo's data. Default `./pixstore-demo-data`. */
  dataDir?: string
  /** Proof window in ms. Default 20000, as in Pixstore. */
  proofWindowMs?: number
  /** Print the start-up line. Default true. */
  log?: boolean
}

/** A running demo. */
export interface Demo {
  url: string
  dataDir: string
  /** Requests that reached the Pixstore image route since start. */
  imageRequests(): number
  close(): Promise<void>
}

interface Player {
  id: string
  name: string
}

/** The size of the demo's sample pictures: large enough that its grid shows variants. */
export const SAMPLE_SIZE = 1200

const sampleNames = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Dennis', 'Radia', 'Tim']
const imageMaxBytes = 5 * 1024 * 1024

/** Starts the demo app: its JSON API, the page, and the Pixstore image route on one server. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const dataDir = path.resolve(options.dataDir ?? 'pixstore-demo-data')
  const { backend } = initPixstoreBackend({
    dataDir: path.join(dataDir, 'pixstore'),
    defaultEndpointEnabled: false,
    imageMaxBytes,
    statelessKeyWindowLength: options.proofWindowMs ?? 20_000,
    // Each card loads the variant its box needs; a click opens the original.
    variants: { widths: [160, 320, 640, 1280], formats: ['avif', 'webp'] },
  })
  const playersFile = path.join(dataDir, 'players.json')
  let players: Player[] = fs.existsSync(playersFile) ? JSON.parse(fs.readFileSync(playersFile, 'utf8')) : []
  const savePlayers = () => fs.writeFileSync(playersFile, JSON.stringify(players, null, 2))
  if (players.length === 0) {
    for (const [i, name] of sampleNames.entries()) {
      const id = `player-${i + 1}`
      await saveImage(samplePicture(i, SAMPLE_SIZE), { id })
      players.push({ id, name })
    }
    savePlayers()
  }

  const page = await build({ ...browserBuild, entryPoints: [path.join(here, 'page/main.ts')] })
  const script = page.outputFiles[0]!.text

  const view = (player: Player) => ({ ...player, imageRecord: getImageRecord(player.id) })
  const find = (id: string) => players.find((p) => p.id === id)
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: imageMaxBytes, files: 1, fields: 4 } })
  let imageRequests = 0

  const app = express()
  app.use((req, _res, next) => {
    if (req.path.startsWith('/pixstore-image/')) imageRequests++
    next()
  })
  app.use(pixstoreNodeHandler)
  app.get('/', (_req, res) => res.sendFile(path.join(here, 'page/index.html')))
  app.get('/style.css', (_req, res) => res.sendFile(path.join(here, 'page/style.css')))
  app.get('/main.js', (_req, res) => res.type('text/javascript').send(script))

  // Records hold image keys and proofs: no browser or proxy cache may keep them.
  app.use('/api', (_req, res, next) => {
    res.set('Cache-Control', 'no-store')
    next()
  })
  app.get('/api/players', (_req, res) => {
    // The whole list's records from one read.
    const records = getImageRecords(players.map((player) => player.id))
    res.json({ players: players.map((player, i) => ({ ...player, imageRecord: records?.[i] ?? null })) })
  })
  app.get('/api/players/:id', (req, res) => {
    const player = find(req.params.id)
    if (!player) return res.status(404).json({ error: 'NOT_FOUND', message: 'No such player' })
    res.json(view(player))
  })
  // A record whose proof was minted three windows ago: the image route must refuse it.
  app.get('/api/players/:id/expired-record', (req, res) => {
    const window = backend.config.statelessKeyWindowLength
    const imageRecord: ImageRecord | null = getImageRecord(req.params.id, { issuedAt: Date.now() - 3 * Math.max(window, 1) })
    if (!imageRecord) return res.status(404).json({ error: 'NOT_FOUND', message: 'No such image' })
    res.json({ imageRecord })
  })
  app.post('/api/players', upload.single('image'), async (req, res) => {
    const name = String(req.body?.name ?? '').trim().slice(0, 40)
    if (!name || !req.file) return res.status(400).json({ error: 'BAD_REQUEST', message: 'A name and an image are required' })
    const id = `player-${Date.now().toString(36)}`
    const refused = await expectedError(backend.saveImage(req.file.buffer, { id }))
    if (refused) return sendError(res, refused)
    players.push({ id, name })
    savePlayers()
    res.status(201).json(view({ id, name }))
  })
  app.put('/api/players/:id/image', upload.single('image'), async (req, res) => {
    const player = find(String(req.params.id))
    if (!player || !req.file) return res.status(400).json({ error: 'BAD_REQUEST', message: 'A known player and an image are required' })
    const refused = await expectedError(backend.updateImage(player.id, req.file.buffer))
    if (refused) return sendError(res, refused)
    res.json(view(player))
  })
  app.delete('/api/players/:id', async (req, res) => {
    const player = find(req.params.id)
    if (!player) return res.status(404).json({ error: 'NOT_FOUND', message: 'No such player' })
    await deleteImage(player.id)
    players = players.filter((p) => p !== player)
    savePlayers()
    res.status(204).end()
  })
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    if (error instanceof multer.MulterError && error.code === 'LIMIT_FILE_SIZE') {
      return res.status(413).json({ error: 'TOO_LARGE', message: `Images are limited to ${imageMaxBytes} bytes` })
    }
    console.error('[demo]', error instanceof Error ? error.message : error)
    res.status(500).json({ error: 'INTERNAL', message: 'Something went wrong' })
  }
  app.use(onError)

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port ?? Number(process.env.PORT ?? 3000), 'localhost', () => resolve(s))
    s.once('error', reject)
  })
  const url = `http://localhost:${(server.address() as AddressInfo).port}`
  if (options.log !== false) {
    console.log(`Pixstore demo: ${url}`)
    console.log(`  data directory: ${dataDir}`)
    console.log(`  proof secret: ${backend.secretSource === 'generated' ? 'generated (new)' : backend.secretSource === 'loaded' ? 'loaded from the data directory' : `from ${backend.secretSource}`}`)
  }
  return {
    url,
    dataDir,
    imageRequests: () => imageRequests,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await closePixstoreBackend()
    },
  }

}

// Uploads go through the backend instance, whose methods throw: an error the user caused
// (a file that is not an image, one too large) becomes a 4xx answer; anything else a 500.
async function expectedError(work: Promise<unknown>): Promise<PixstoreError | undefined> {
  try {
    await work
    return undefined
  } catch (error) {
    if (isPixstoreError(error) && error.expected) return error
    throw error
  }
}

function sendError(res: express.Response, error: PixstoreError) {
  res.status(error.code === 'TOO_LARGE' ? 413 : 400).json({ error: error.code, message: error.message })
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = process.argv.includes('--port') ? Number(process.argv[process.argv.indexOf('--port') + 1]) : undefined
  const demo = await startDemo({ port, dataDir: process.env.PIXSTORE_DEMO_DATA_DIR })
  const stop = () => void demo.close().then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
