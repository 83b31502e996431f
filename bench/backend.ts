import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { pixstore3 } from './lib/pixstore3.js'
import { benchImages, type BenchImage } from './lib/images.js'
import { concurrentOpsPerSecond, interleaved, opsPerSecond, repeat, summarise } from './lib/measure.js'
import { record, section } from './lib/report.js'

const higher = 'higher' as const
const atLeast = (x: number, text: string) => ({ text, met: (ratio: number) => ratio >= x })

/** Encrypts like Pixstore (AES-256-GCM, fresh key and IV) and writes a new file with fsync: the physical floor of a durable save. */
async function encryptWriteSync(dir: string, bytes: Uint8Array, n: number): Promise<void> {
  const key = randomBytes(32)
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const ciphertext = Buffer.concat([cipher.update(bytes), cipher.final()])
  cipher.getAuthTag()
  const handle = await fs.promises.open(path.join(dir, `b${n}`), 'w')
  try {
    await handle.writeFile(ciphertext)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * The floor of a durable save whose row must be synced after its file (so that no crash
 * leaves a row naming a torn file): the file as above, then a one-row commit in SQLite
 * (WAL, synchronous FULL), as Pixstore's embedded store commits. Two syncs in a row.
 */
function fileThenRow(dir: string): { write: (bytes: Uint8Array, n: number) => Promise<void>; close: () => void } {
  const db = new Database(path.join(dir, 'rows.sqlite'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE rows (name TEXT PRIMARY KEY, meta TEXT NOT NULL)')
  const insert = db.prepare('INSERT INTO rows (name, meta) VALUES (?, ?)')
  const meta = JSON.stringify({ iv: randomBytes(12).toString('base64'), tag: randomBytes(16).toString('base64'), key: randomBytes(60).toString('base64') })
  return {
    async write(bytes, n) {
      await encryptWriteSync(dir, bytes, n)
      insert.run(`b${n}`, meta)
    },
    close: () => db.close(),
  }
}

/** The backend in one process: saves, updates, records and payloads beside Node's crypto and fs doing the same bytes. */
export async function runBackendBench({ quick = false }: { quick?: boolean } = {}): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pixstore-bench-'))
  const images = benchImages()
  let peakRss = process.memoryUsage().rss
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20)
  let backend: PixstoreBackend | undefined
  try {
    backend = createPixstoreBackend({ dataDir: path.join(root, 'data'), statelessProofSecret: randomBytes(32).toString('base64url') })
    section('Backend in one process', 'Node crypto AES-256-GCM and fs on the same bytes, in the same run')
    for (const image of images) await writes(backend, image, root, quick)
    await concurrency(backend, images[0]!, quick)
    await records(backend, quick)
    for (const image of images) await payloads(backend, image, root, quick)
    record({
      workload: 'peak RSS of the bench process',
      unit: 'MB',
      pixstore: summarise([peakRss / 1048576]),
      better: 'lower',
    })
  } finally {
    clearInterval(sampler)
    await backend?.close()
    fs.rmSync(root, { recursive: true, force: true })
  }
}

async function writes(backend: PixstoreBackend, image: BenchImage, root: string, quick: boolean): Promise<void> {
  const count = image.bytes.length > 1e6 ? (quick ? 5 : 20) : quick ? 30 : 120
  const baselineDir = fs.mkdtempSync(path.join(root, 'baseline-'))
  let n = 0
  const ids: string[] = []
  const floor = fileThenRow(baselineDir)
  // Round by round, so that the disk's moods fall on all of them alike.
  const { save, baseline, update, twoSyncs } = await interleaved(5, {
    save: () => opsPerSecond(count, async () => ids.push((await backend.saveImage(image.bytes))!.id)),
    baseline: () => opsPerSecond(count, () => encryptWriteSync(baselineDir, image.bytes, n++)),
    update: () => opsPerSecond(count, (i) => backend.updateImage(ids[i % ids.length]!, image.bytes)),
    twoSyncs: () => opsPerSecond(count, () => floor.write(image.bytes, n++)),
  })
  floor.close()
  // A durable save or update should run at 0.8 × the rate of the floor (encrypt, write, fsync) or better.
  record({ workload: 'saveImage (durable)', size: image.label, unit: 'ops/s', pixstore: save, baseline, better: higher, target: atLeast(0.8, '>= 0.8 × reference') })
  // What is left beside the floor of a file then its row: Pixstore's own costs.
  record({ workload: 'saveImage (durable) vs file + row synced', size: image.label, unit: 'ops/s', pixstore: save, baseline: twoSyncs, baselineName: 'file, then row', better: higher })
  record({ workload: 'updateImage (durable)', size: image.label, unit: 'ops/s', pixstore: update, baseline, better: higher, target: atLeast(0.8, '>= 0.8 × reference') })
  // pixstore 3.2.1 on the same bytes: its writes are not synced (a crash can lose or tear them).
  const v3 = await pixstore3(root)
  const v3ids: string[] = []
  const v3save = await repeat(3, () => opsPerSecond(count, async () => v3ids.push((await v3.saveImage(image.bytes)).id)))
  record({ workload: 'saveImage (durable) vs 3.2.1 (not durable)', size: image.label, unit: 'ops/s', pixstore: save, baseline: v3save, better: higher })
  const v3update = await repeat(3, () => opsPerSecond(count, (i) => v3.updateImage(v3ids[i % v3ids.length]!, image.bytes)))
  record({ workload: 'updateImage (durable) vs 3.2.1 (not durable)', size: image.label, unit: 'ops/s', pixstore: update, baseline: v3update, better: higher })
  for (const id of ids) await backend.deleteImage(id)
  fs.rmSync(baselineDir, { recursive: true, force: true })
}

async function concurrency(backend: PixstoreBackend, image: BenchImage, quick: boolean): Promise<void> {
  const ids: string[] = []
  for (let i = 0; i < 8; i++) ids.push((await backend.saveImage(image.bytes))!.id)
  const count = quick ? 80 : 240
  const one = await repeat(3, () => concurrentOpsPerSecond(count, 1, (i) => backend.updateImage(ids[i % 8]!, image.bytes)))
  const eight = await repeat(3, () => concurrentOpsPerSecond(count, 8, (i) => backend.updateImage(ids[i % 8]!, image.bytes)))
  record({
    workload: 'updateImage, 8 concurrent writers vs 1',
    size: image.label,
    unit: 'ops/s',
    pixstore: eight,
    baseline: one,
    baselineName: 'one writer',
    better: higher,
    target: atLeast(2, '>= 2 × one writer'),
  })
}

async function records(backend: PixstoreBackend, quick: boolean): Promise<void> {
  const ids: string[] = []
  const image = benchImages()[0]!
  for (let i = 0; i < 100; i++) ids.push((await backend.saveImage(image.bytes))!.id)
  const count = quick ? 50_000 : 200_000
  const sync = await repeat(3, () => opsPerSecond(count, (i) => backend.getImageRecord(ids[i % 100]!)))
  record({
    workload: 'getImageRecord (embedded, synchronous)',
    unit: 'records/s',
    pixstore: sync,
    better: higher,
    target: { text: '>= 100,000 records/s', met: (_ratio, row) => row.pixstore.median >= 100_000 },
  })
}

async function payloads(backend: PixstoreBackend, image: BenchImage, root: string, quick: boolean): Promise<void> {
  const saved = (await backend.saveImage(image.bytes))!
  const file = path.join(root, `payload-${image.label.replace(/\W/g, '')}`)
  const updatedPayload = await backend.customEndpointHelper(saved.id, undefined, saved.statelessProof)
  fs.writeFileSync(file, updatedPayload)
  const count = image.bytes.length > 1e6 ? (quick ? 20 : 60) : quick ? 500 : 2000
  const helper = (token: number | undefined) => () => opsPerSecond(count, () => backend.customEndpointHelper(saved.id, token, saved.statelessProof))
  const figures = await interleaved(3, { readFile: () => opsPerSecond(count, () => fs.promises.readFile(file)), Success: helper(saved.token), Updated: helper(undefined) })
  const readFile = figures.readFile
  for (const kind of ['Success', 'Updated'] as const) {
    const ops = figures[kind]
    record({
      workload: `payload generation (${kind})`,
      size: image.label,
      unit: 'ops/s',
      pixstore: ops,
      baseline: readFile,
      baselineName: 'fs.readFile of the same bytes',
      better: higher,
      target: atLeast(0.9, '>= 0.9 × readFile'),
    })
  }
  // pixstore 3.2.1's customEndpointHelper on the same image, in the same run.
  const v3 = await pixstore3(root)
  const v3saved = await v3.saveImage(image.bytes)
  for (const [kind, token] of [
    ['Success', v3saved.token],
    ['Updated', undefined],
  ] as const) {
    const { ours, theirs } = await interleaved(3, {
      ours: helper(kind === 'Success' ? saved.token : undefined),
      theirs: () => opsPerSecond(count, () => v3.customEndpointHelper(v3saved.id, token, v3saved.statelessProof)),
    })
    record({
      workload: `payload generation (${kind}) vs 3.2.1`,
      size: image.label,
      unit: 'ops/s',
      pixstore: ours,
      baseline: theirs,
      baselineName: 'pixstore 3.2.1 customEndpointHelper',
      better: higher,
      target: atLeast(1, '>= 3.2.1'),
    })
  }
  // The floor of decryption in the browser is the same AES-GCM: shown for reference.
  const { key, iv, tag } = saved.meta
  const ciphertext = updatedPayload.subarray(69)
  const decrypt = await repeat(3, () =>
    opsPerSecond(count, () => {
      const d = createDecipheriv('aes-256-gcm', Buffer.from(key, 'base64'), Buffer.from(iv, 'base64')).setAuthTag(Buffer.from(tag, 'base64'))
      return Buffer.concat([d.update(ciphertext), d.final()])
    }),
  )
  record({ workload: 'AES-256-GCM decrypt alone (reference)', size: image.label, unit: 'ops/s', pixstore: decrypt, better: higher })
}
