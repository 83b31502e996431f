import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { samplePicture } from '../../demo/sample-images.js'
import { decryptUpdatedPayload, sha256, tempDir } from '../helpers.js'

const ids = ['img-0', 'img-1', 'img-2', 'img-3', 'img-4']
const VERSIONS = 12

/** Reads `id` as a client with no token would, and decrypts it; returns the image hash. */
async function readAndDecrypt(backend: PixstoreBackend, id: string): Promise<string> {
  const record = backend.getImageRecord(id)!
  return sha256(decryptUpdatedPayload(await backend.customEndpointHelper(id, undefined, record.statelessProof)))
}

describe('concurrent updates and reads', () => {
  const data = tempDir()
  const versionsDir = path.join(data.dir, 'versions')
  const versions: Buffer[] = []
  const hashes = new Set<string>()

  beforeAll(async () => {
    fs.mkdirSync(versionsDir)
    for (let v = 0; v < VERSIONS; v++) {
      const png = samplePicture(v, 40)
      versions.push(png)
      hashes.add(await sha256(png))
      fs.writeFileSync(path.join(versionsDir, `v${String(v).padStart(3, '0')}.png`), png)
    }
  })
  afterAll(() => data.remove())

  it('never returns a payload that fails to decrypt, with thousands of interleaved operations in one process', async () => {
    const backend = createPixstoreBackend({ dataDir: path.join(data.dir, 'one') })
    try {
      for (const [i, id] of ids.entries()) await backend.saveImage(versions[i]!, { id })
      let reads = 0
      let updates = 0
      const updater = async (lane: number) => {
        for (let n = 0; n < 60; n++) {
          await backend.updateImage(ids[(lane + n) % ids.length]!, versions[(lane * 7 + n) % VERSIONS]!)
          updates++
        }
      }
      const reader = async (lane: number) => {
        for (let n = 0; n < 500; n++) {
          expect(hashes.has(await readAndDecrypt(backend, ids[(lane + n) % ids.length]!))).toBe(true)
          reads++
        }
      }
      await Promise.all([updater(0), updater(1), updater(2), reader(0), reader(1), reader(2), reader(3)])
      expect(reads).toBe(2000)
      expect(updates).toBe(180)
    } finally {
      await backend.close()
    }
  }, 120_000)

  it('never returns a payload that fails to decrypt while another process updates the same images', async () => {
    const dataDir = path.join(data.dir, 'two')
    const backend = createPixstoreBackend({ dataDir })
    try {
      for (const [i, id] of ids.entries()) await backend.saveImage(versions[i]!, { id })
      const child = spawn(process.execPath, [path.resolve('test/children/writer.mjs'), dataDir, versionsDir, '0', '7', '300', 'updates'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let acknowledged = 0
      child.stdout.on('data', (chunk: Buffer) => (acknowledged += (chunk.toString().match(/^A /gm) ?? []).length))
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      let running = true
      void exited.then(() => (running = false))
      let reads = 0
      while (running || reads < 1000) {
        expect(hashes.has(await readAndDecrypt(backend, ids[reads % ids.length]!))).toBe(true)
        reads++
        // Small images are read from SQLite without any I/O wait: let the child's events in.
        if (reads % 20 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      expect(await exited).toBe(0)
      expect(acknowledged).toBe(300)
      expect(reads).toBeGreaterThanOrEqual(1000)
      expect((await backend.verify()).failures).toEqual([])
    } finally {
      await backend.close()
    }
  }, 120_000)
})
