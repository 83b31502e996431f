import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import { isPixstoreError } from 'pixstore/shared'
import { samplePicture } from '../../demo/sample-images.js'
import { fixturePath, sleep, tempDir } from '../helpers.js'
import { mixedSteps, runCli, servedBytes, snapshot, write3x, type Image3x } from './data-set.js'

interface ImportReport {
  source: number
  copied: string[]
  updated: string[]
  alreadyThere: number
  failed: { id: string; reason: string }[]
}

// The app's own 3.x paths, as its config named them.
const options3x = { imageRootDir: 'uploads', databasePath: './app.sqlite' }
const importArgs = ['import-3x', '--database', 'app.sqlite', '--images', 'uploads', '--data-dir', 'data', '--json']

/** Runs `action` with `dir` as the working directory. */
function inDirectory<T>(dir: string, action: () => T): T {
  const previous = process.cwd()
  process.chdir(dir)
  try {
    return action()
  } finally {
    process.chdir(previous)
  }
}

describe('pixstore import-3x, on a data set written by pixstore 3.2.1', () => {
  let work: ReturnType<typeof tempDir>
  const open: PixstoreBackend[] = []
  beforeEach(() => {
    work = tempDir()
  })
  afterEach(async () => {
    await Promise.all(open.splice(0).map((backend) => backend.close()))
    work.remove()
  })

  const runImport = async (onStart?: Parameters<typeof runCli>[2]) => {
    const result = await runCli(importArgs, work.dir, onStart)
    return { ...result, report: result.code === null ? undefined : (JSON.parse(result.stdout) as ImportReport) }
  }
  const backend = () => {
    const opened = createPixstoreBackend({ dataDir: path.join(work.dir, 'data') })
    open.push(opened)
    return opened
  }
  /** Every image reads back, through the route's answer, as the bytes of the file its 3.x version came from. */
  const expectAllServed = async (images: Image3x[]) => {
    const pixstore = backend()
    for (const image of images) expect((await servedBytes(pixstore, image.id)).equals(fs.readFileSync(image.file)), image.id).toBe(true)
  }

  it('copies PNG, JPEG and WebP images, updated ones at their last version, byte for byte, and a second run copies nothing', async () => {
    const images = write3x(work.dir, mixedSteps, options3x)
    const before = snapshot(work.dir)

    const first = await runImport()
    expect(first.code).toBe(0)
    expect(first.report).toMatchObject({ source: 4, updated: [], alreadyThere: 0, failed: [] })
    expect([...first.report!.copied].sort()).toEqual(images.map((image) => image.id).sort())
    await expectAllServed(images)

    const second = await runImport()
    expect(second.code).toBe(0)
    expect(second.report).toMatchObject({ source: 4, copied: [], updated: [], alreadyThere: 4, failed: [] })
    // The 3.x database and image files, byte for byte and by modification time.
    const after = snapshot(work.dir)
    for (const [file, state] of Object.entries(before)) expect(after[file], file).toBe(state)
  })

  it('copies again what the 3.x app changed since the last run, and keeps what Pixstore changed since', async () => {
    const [changedIn3x, changedInPixstore] = write3x(work.dir, mixedSteps.slice(0, 2), options3x)
    expect((await runImport()).report!.copied).toHaveLength(2)
    // Pixstore's newer version of one image, then 3.x's newer version of the other.
    const pixstore = backend()
    await pixstore.updateImage(changedInPixstore!.id, fs.readFileSync(fixturePath('sample.gif')))
    await sleep(5)
    write3x(work.dir, [{ update: changedIn3x!.id, file: fixturePath('sample.webp') }], options3x)

    const rerun = await runImport()
    expect(rerun.report).toMatchObject({ copied: [], updated: [changedIn3x!.id], alreadyThere: 1, failed: [] })
    expect((await servedBytes(pixstore, changedIn3x!.id)).equals(fs.readFileSync(fixturePath('sample.webp')))).toBe(true)
    expect((await servedBytes(pixstore, changedInPixstore!.id)).equals(fs.readFileSync(fixturePath('sample.gif')))).toBe(true)
  })

  it('reports each image it cannot read, with the reason, copies the rest, and exits 1', async () => {
    const images = write3x(work.dir, mixedSteps.slice(0, 4), options3x)
    const fileOf = (id: string) => {
      const [prefix, key] = id.split(':')
      return key ? path.join(work.dir, 'uploads', prefix!, `${key}.pixstore-image`) : path.join(work.dir, 'uploads', `${id}.pixstore-image`)
    }
    const [damaged, missing, badMeta, fine] = images as [Image3x, Image3x, Image3x, Image3x]
    const bytes = fs.readFileSync(fileOf(damaged.id))
    bytes[bytes.length >> 1]! ^= 0xff
    fs.writeFileSync(fileOf(damaged.id), bytes)
    fs.rmSync(fileOf(missing.id))
    const db = new Database(path.join(work.dir, 'app.sqlite'))
    db.prepare('UPDATE image_records SET meta = ? WHERE id = ?').run('{"key":"short"}', badMeta.id)
    db.prepare('INSERT INTO image_records (id, token, meta) VALUES (?, ?, ?)').run('has space', Date.now(), '{}')
    db.close()

    const result = await runImport()
    expect(result.code).toBe(1)
    const reasons = Object.fromEntries(result.report!.failed.map((failure) => [failure.id, failure.reason]))
    expect(reasons[damaged.id]).toMatch(/does not decrypt/)
    expect(reasons[missing.id]).toMatch(/could not be read/)
    expect(reasons[badMeta.id]).toMatch(/no valid key/)
    expect(reasons['has space']).toMatch(/id is not one Pixstore accepts/)
    expect(result.report!.copied).toEqual([fine.id])
    const pixstore = backend()
    for (const failed of [damaged, missing, badMeta]) expect(await pixstore.imageExists(failed.id)).toBe(false)

    // An app on these 3.x paths does not start with some of its images missing, until the operator accepts it.
    const start = () => inDirectory(work.dir, () => createPixstoreBackend({ ...options3x, dataDir: 'data' }))
    expect(() => start()).toThrow(expect.objectContaining({ code: 'IMPORT_REQUIRED' }))
    const accepted = await runCli([...importArgs, '--allow-failed'], work.dir)
    expect(accepted.code).toBe(1)
    open.push(start())
  })

  it('loses nothing when it is killed at random moments: the next run completes the copy', async () => {
    const files = Array.from({ length: 120 }, (_, i) => {
      const file = path.join(work.dir, `picture-${i}.png`)
      fs.writeFileSync(file, samplePicture(i, 48))
      return file
    })
    const images = write3x(work.dir, files.map((file, i) => ({ save: file, dir: i % 2 ? 'odd' : undefined })), options3x)
    const copiedSoFar = () => {
      const file = path.join(work.dir, 'data', 'pixstore.sqlite')
      if (!fs.existsSync(file)) return 0
      const db = new Database(file, { readonly: true })
      try {
        return db.prepare('SELECT count(*) FROM pixstore_images').pluck().get() as number
      } catch {
        return 0 // the import is still creating its schema
      } finally {
        db.close()
      }
    }
    // Each run is killed once it has copied a random share more than the one before.
    let killedMidway = 0
    for (let attempt = 1; attempt <= 4; attempt++) {
      const target = Math.floor(((attempt - 1 + Math.random()) / 4) * images.length) + 1
      let watch: NodeJS.Timeout | undefined
      const result = await runImport((child) => {
        watch = setInterval(() => {
          if (copiedSoFar() >= target) child.kill('SIGKILL')
        }, 2)
      })
      clearInterval(watch)
      const copied = copiedSoFar()
      if (result.code === null && copied < images.length) killedMidway++
    }
    expect(killedMidway).toBeGreaterThan(1)

    const last = await runImport()
    expect(last.code).toBe(0)
    expect(last.report!.copied.length + last.report!.alreadyThere).toBe(images.length)
    await expectAllServed(images)
    const report = await backend().verify()
    expect(report.failures).toEqual([])
  }, 120_000)

  it('is what a backend started with the 3.x options on 3.x data asks for, and that backend then shows every image', async () => {
    const images = write3x(work.dir, mixedSteps, options3x)
    const cwd = process.cwd()
    process.chdir(work.dir)
    try {
      let refusal: unknown
      try {
        createPixstoreBackend(options3x)
      } catch (error) {
        refusal = error
      }
      if (!isPixstoreError(refusal) || refusal.code !== 'IMPORT_REQUIRED') throw new Error(`expected IMPORT_REQUIRED, got ${String(refusal)}`)
      // The command the message names, run as printed.
      const command = /npx pixstore (import-3x .*)$/.exec(refusal.message)![1]!.split(' ')
      const result = await runCli(command, work.dir)
      expect(result.code).toBe(0)
      const started = createPixstoreBackend(options3x)
      open.push(started)
      for (const image of images) expect((await servedBytes(started, image.id)).equals(fs.readFileSync(image.file))).toBe(true)
    } finally {
      process.chdir(cwd)
    }
  })
})
