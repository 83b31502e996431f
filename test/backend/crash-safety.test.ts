import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { samplePicture } from '../../demo/sample-images.js'
import { decryptUpdatedPayload, sha256, sleep, tempDir } from '../helpers.js'

const writer = path.resolve('test/children/writer.mjs')
const KILLS = 50
const VERSIONS = 24

type State = { kind: 'absent' } | { kind: 'present'; version: number }

/** Starts the writer process; resolves its output lines as they come. */
function startWriter(dataDir: string, versionsDir: string, firstVersion: number, seed: number, inline: number, widths: string) {
  const child = spawn(process.execPath, [writer, dataDir, versionsDir, String(firstVersion), String(seed), '1000000', 'mixed', String(inline), widths], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines: string[] = []
  let buffered = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk
    const parts = buffered.split('\n')
    buffered = parts.pop()!
    lines.push(...parts)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return { child, lines, exited }
}

/** Decrypts the current version of `id` from an Updated payload and returns its hash, or null if it does not exist. */
async function currentHash(backend: PixstoreBackend, id: string): Promise<string | null> {
  const record = backend.getImageRecord(id)
  if (!record) return null
  const payload = await backend.customEndpointHelper(id, undefined, record.statelessProof)
  expect(payload[0]).toBe(1)
  return sha256(decryptUpdatedPayload(payload))
}

describe('crash safety under SIGKILL', () => {
  const data = tempDir()
  const versionsDir = path.join(data.dir, 'versions')
  const hashOfVersion: string[] = []

  beforeAll(async () => {
    fs.mkdirSync(versionsDir)
    for (let v = 0; v < VERSIONS; v++) {
      const png = samplePicture(v, 48)
      fs.writeFileSync(path.join(versionsDir, `v${String(v).padStart(3, '0')}.png`), png)
      hashOfVersion.push(await sha256(png))
    }
  })
  afterAll(() => data.remove())

  // Small images live inside the SQLite file, larger ones in files: both ways are killed.
  // With variants, each version is 5 files (the image, 2 widths × 2 formats), all of one
  // version or all of the other: a variant of another version would not decrypt under the
  // row's key, which verify checks.
  it.each([
    ['inside the database', 64 * 1024, ''],
    ['as files', 0, ''],
    ['as files with their variants', 0, '16,32'],
  ])(`loses nothing acknowledged and keeps every image whole over ${KILLS} kills at random moments, images %s`, async (_how, inline, widths) => {
    const dataDir = path.join(data.dir, `data-${inline}-${widths}`)
    const state = new Map<string, State>()
    let nextVersion = 0
    let acknowledged = 0
    for (let round = 0; round < KILLS; round++) {
      const { child, lines, exited } = startWriter(dataDir, versionsDir, nextVersion, 1000 + round, inline, widths)
      // Kill at a random moment: sometimes during start-up, mostly in the middle of writes.
      if (round % 5 !== 0) {
        while (!lines.includes('READY')) await sleep(5)
      }
      // Making variants makes each write slower: the window grows with it.
      await sleep(Math.random() * (widths ? 400 : 120))
      child.kill('SIGKILL')
      await exited

      // Replay what the writer said: acknowledged operations must all be there; the one it
      // began but did not acknowledge may or may not have happened.
      let inFlight: { op: string; id: string; version: number } | undefined
      for (const line of lines) {
        const [mark, op, id, version] = line.split(' ')
        if (mark === 'B') inFlight = { op: op!, id: id!, version: Number(version) }
        if (mark === 'A') {
          state.set(id!, op === 'delete' ? { kind: 'absent' } : { kind: 'present', version: Number(version) })
          inFlight = undefined
          acknowledged++
        }
        if (mark === 'B' || mark === 'A') nextVersion = Math.max(nextVersion, Number(version) + 1)
      }

      const backend = createPixstoreBackend({ dataDir, inlineImageMaxBytes: inline })
      try {
        for (const id of ['img-0', 'img-1', 'img-2', 'img-3', 'img-4']) {
          const allowed: State[] = [state.get(id) ?? { kind: 'absent' }]
          if (inFlight?.id === id) {
            allowed.push(inFlight.op === 'delete' ? { kind: 'absent' } : { kind: 'present', version: inFlight.version })
          }
          const hash = await currentHash(backend, id)
          if (widths && hash !== null) {
            expect(backend.getImageRecord(id)!.variants!.map((v) => `${v.width}.${v.format}`)).toEqual(['16.webp', '16.avif', '32.webp', '32.avif'])
          }
          const matches = allowed.filter((s) => (s.kind === 'absent' ? hash === null : hash === hashOfVersion[s.version % VERSIONS]))
          expect(matches.length, `round ${round}, ${id}: ${JSON.stringify(allowed)}`).toBeGreaterThan(0)
          // Carry forward what is really there, so the next round checks against it.
          if (inFlight?.id === id && matches[0] === allowed[1]) state.set(id, allowed[1]!)
        }
        const verified = await backend.verify()
        expect(verified.failures).toEqual([])
      } finally {
        await backend.close()
      }
    }
    expect(acknowledged).toBeGreaterThan(KILLS)

    // Files left by writes that never committed are orphans: gc removes them and only them.
    const backend = createPixstoreBackend({ dataDir, inlineImageMaxBytes: inline })
    try {
      const report = await backend.gc({ olderThanMs: 0 })
      const stats = await backend.getStats()
      expect(stats.blobs?.count).toBe(stats.images * (widths ? 5 : 1))
      expect((await backend.verify()).failures).toEqual([])
      console.log(`crash test: ${acknowledged} acknowledged writes over ${KILLS} kills; gc removed ${report.removed.length} orphans`)
    } finally {
      await backend.close()
    }
  }, 180_000)
})
