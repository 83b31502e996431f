import { createDecipheriv } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest'
import type * as BackendEntry from 'pixstore/backend'
import type { PixstoreBackend, PixstoreBackendConfig } from 'pixstore/backend'
import type * as SharedEntry from 'pixstore/shared'
import { markImported } from '../../src/backend/legacy-3x.js'
import { fixture, listFiles, tempDir } from '../helpers.js'

type Library = typeof BackendEntry & typeof SharedEntry

// Each test loads the library anew: the once-per-process warnings and the process-wide
// 3.x error hooks then start unset, whatever ran before.
let lib: Library
let warn: MockInstance<typeof console.warn>
const backends: PixstoreBackend[] = []
const removals: (() => void)[] = []

beforeEach(async () => {
  vi.resetModules()
  const [backend, shared] = await Promise.all([import('pixstore/backend'), import('pixstore/shared')])
  lib = { ...backend, ...shared }
  warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
})

afterEach(async () => {
  await Promise.all(backends.splice(0).map((backend) => backend.close()))
  await lib.closePixstoreBackend()
  vi.restoreAllMocks()
  for (const remove of removals.splice(0)) remove()
})

/** A temporary folder, removed after the test. */
function scratch(): string {
  const { dir, remove } = tempDir()
  removals.push(remove)
  return dir
}

/** A backend instance, closed after the test. */
function open(config?: PixstoreBackendConfig): PixstoreBackend {
  const backend = lib.createPixstoreBackend(config)
  backends.push(backend)
  return backend
}

/** What `action` throws; fails the test if it throws nothing. */
function thrown(action: () => unknown): { code: string; message: string } {
  try {
    action()
  } catch (error) {
    return error as { code: string; message: string }
  }
  throw new Error('expected an error')
}

/** Runs `action` with `dir` as the working directory, restoring the previous one afterwards. */
async function inDirectory<T>(dir: string, action: () => T | Promise<T>): Promise<T> {
  const previous = process.cwd()
  process.chdir(dir)
  try {
    return await action()
  } finally {
    process.chdir(previous)
  }
}

/** The warnings printed so far that contain `text`. */
function warningsWith(text: string): string[] {
  return warn.mock.calls.map(([line]) => String(line)).filter((line) => line.includes(text))
}

/** Saves `image` and returns the first byte of its plaintext inside the encryption: its format byte. */
async function formatByteOf(backend: PixstoreBackend, image: Buffer): Promise<number> {
  const { id } = await backend.saveImage(image)
  const record = (await backend.getImageRecordAsync(id))!
  const payload = lib.decodePayload(await backend.customEndpointHelper(id, undefined, record.statelessProof))
  if (payload.state !== lib.PayloadState.Updated) throw new Error(`expected an Updated payload, got state ${payload.state}`)
  const decipher = createDecipheriv('aes-256-gcm', payload.key, payload.iv).setAuthTag(payload.tag)
  return Buffer.concat([decipher.update(payload.ciphertext), decipher.final()])[0]!
}

/** Writes a database shaped as pixstore 3.x wrote it, holding `rows` image records. */
function writeLegacyDatabase(file: string, rows: number): void {
  const db = new Database(file)
  try {
    db.exec('CREATE TABLE image_records (id TEXT PRIMARY KEY, token INTEGER NOT NULL, meta TEXT NOT NULL)')
    const insert = db.prepare('INSERT INTO image_records (id, token, meta) VALUES (?, ?, ?)')
    for (let i = 0; i < rows; i++) insert.run(`image-${i}`, Date.now(), JSON.stringify({ key: 'a', iv: 'b', tag: 'c' }))
  } finally {
    db.close()
  }
}

describe('pixstore 3.x backend locations: imageRootDir and databasePath', () => {
  it('imageRootDir alone keeps the data in <imageRootDir>/pixstore.data, warning once per process to use dataDir', async () => {
    const root = scratch()
    const backend = open({ imageRootDir: root, inlineImageMaxBytes: 0 })
    expect(backend.config.dataDir).toBe(path.resolve(root, 'pixstore.data'))
    const { id } = await backend.saveImage(fixture('sample.png'))
    expect(await backend.imageExists(id)).toBe(true)
    const files = listFiles(root)
    expect(files).toContain(path.join('pixstore.data', 'pixstore.sqlite'))
    expect(files.some((file) => file.startsWith(path.join('pixstore.data', 'images') + path.sep))).toBe(true)
    expect(files.every((file) => file.startsWith('pixstore.data' + path.sep))).toBe(true)

    open({ imageRootDir: scratch() })
    expect(warningsWith('"imageRootDir"')).toEqual([expect.stringMatching(/^\[pixstore\] .*"dataDir"/)])
  })

  it('databasePath alone keeps the data in pixstore-images/pixstore.data under the working directory, warning once to use dataDir', async () => {
    const cwd = scratch()
    const database = path.join(cwd, 'app.sqlite')
    await inDirectory(cwd, () => {
      expect(open({ databasePath: database }).config.dataDir).toBe(path.resolve('pixstore-images', 'pixstore.data'))
    })
    expect(fs.existsSync(path.join(cwd, 'pixstore-images', 'pixstore.data', 'pixstore.sqlite'))).toBe(true)
    expect(fs.existsSync(database)).toBe(false)
    expect(warningsWith('"databasePath"')).toEqual([expect.stringMatching(/^\[pixstore\] .*"dataDir"/)])
  })

  it('dataDir wins over imageRootDir and databasePath given with it', () => {
    const dataDir = scratch()
    const root = scratch()
    const backend = open({ dataDir, imageRootDir: root, databasePath: path.join(root, 'app.sqlite') })
    expect(backend.config.dataDir).toBe(path.resolve(dataDir))
    expect(listFiles(root)).toEqual([])
  })

  it('still refuses a misspelled current option, naming the closest one', () => {
    expect(thrown(() => open({ dataDri: scratch() } as PixstoreBackendConfig))).toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringMatching(/did you mean "dataDir"/i),
    })
  })
})

describe('pixstore 3.x imageFormats on the backend', () => {
  it('numbers the listed formats from 1 in list order and accepts only those, warning once', async () => {
    const backend = open({ dataDir: scratch(), imageFormats: ['jpg', 'png'] })
    expect(await formatByteOf(backend, fixture('sample.png'))).toBe(2)
    expect(await formatByteOf(backend, fixture('sample.jpg'))).toBe(1)
    await expect(backend.saveImage(fixture('sample.webp'))).rejects.toMatchObject({ code: 'INVALID_IMAGE' })

    open({ dataDir: scratch(), imageFormats: ['jpg', 'png'] })
    expect(warningsWith('"imageFormats"')).toEqual([expect.stringMatching(/^\[pixstore\] /)])
  })

  it('without the option, gives each format the byte of the 3.x default list', async () => {
    const backend = open({ dataDir: scratch() })
    const bytes: Record<string, number> = {}
    for (const name of ['sample.png', 'sample.webp', 'sample.jpg', 'sample.gif', 'sample.avif']) bytes[name] = await formatByteOf(backend, fixture(name))
    expect(bytes).toEqual({ 'sample.png': 1, 'sample.webp': 2, 'sample.jpg': 3, 'sample.gif': 5, 'sample.avif': 6 })
    expect(warningsWith('"imageFormats"')).toEqual([])
  })

  it.each([
    [['png', 'jpeg', 'jpg'], 2],
    [['png', 'jpg', 'jpeg'], 2],
    [['jpeg'], 1],
  ] as const)('with %o, a JPEG gets byte %i (jpeg and jpg both name JPEG, the first listed gives the byte)', async (imageFormats, byte) => {
    const backend = open({ dataDir: scratch(), imageFormats })
    expect(await formatByteOf(backend, fixture('sample.jpg'))).toBe(byte)
  })

  it.each([[[]], ['png'], [['png', 3]]])('refuses imageFormats %o with INVALID_CONFIG naming the option', (imageFormats) => {
    expect(thrown(() => open({ dataDir: scratch(), imageFormats } as PixstoreBackendConfig))).toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringContaining('"imageFormats"'),
    })
  })

  it('verify finds no failure in a store written with the same list', async () => {
    const backend = open({ dataDir: scratch(), imageFormats: ['jpg', 'png'] })
    await backend.saveImage(fixture('sample.png'))
    await backend.saveImage(fixture('sample.jpg'))
    expect(await backend.verify()).toEqual({ checked: 2, ok: 2, failures: [] })
  })
})

describe('pixstore 3.x imageFormats on the frontend', () => {
  it('types each format byte by its place in the list, warning once', async () => {
    const { resolveFrontendConfig } = await import('../../src/frontend/config.js')
    const formats = resolveFrontendConfig({ imageFormats: ['jpg', 'png'] }).formats
    expect([formats.fromByte(1), formats.fromByte(2)]).toEqual(['jpeg', 'png'])
    resolveFrontendConfig({ imageFormats: ['jpg', 'png'] })
    expect(warningsWith('"imageFormats"')).toEqual([expect.stringMatching(/^\[pixstore\] /)])
  })

  it('without the option, reads byte 2 as WebP', async () => {
    const { resolveFrontendConfig } = await import('../../src/frontend/config.js')
    expect(resolveFrontendConfig().formats.fromByte(2)).toBe('webp')
  })
})

describe('pixstore 3.x error hooks', () => {
  it('setCustomErrorHandler and getLastPixstoreError see the errors of the default instance, onError still called first', async () => {
    const seen: string[] = []
    const handled: unknown[] = []
    lib.initPixstoreBackend({ dataDir: scratch(), defaultEndpointEnabled: false, onError: (error) => void seen.push(`onError ${error.code}`) })
    lib.setCustomErrorHandler((error) => {
      handled.push(error)
      seen.push('handler')
    })
    expect(lib.getLastPixstoreError()).toBeNull()

    expect(await lib.updateImage('missing-id', fixture('sample.png'))).toBeNull()
    expect(seen).toEqual(['onError NOT_FOUND', 'handler'])
    expect(handled).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })])
    expect(handled[0]).toBeInstanceOf(lib.PixstoreError)
    expect(lib.getLastPixstoreError()).toBe(handled[0])

    for (const name of ['setCustomErrorHandler', 'getLastPixstoreError']) {
      expect(warningsWith(name), name).toEqual([expect.stringMatching(/^\[pixstore\] .*"onError"/)])
    }
  })

  it('setCustomErrorHandler refuses a non-function with INVALID_CONFIG', () => {
    expect(thrown(() => lib.setCustomErrorHandler('log' as never))).toMatchObject({ code: 'INVALID_CONFIG' })
  })
})

describe('start-up beside a pixstore 3.x database', () => {
  /** A 3.x database with `rows` records and an empty images folder, in a folder of their own. */
  function legacySet(rows: number) {
    const dir = scratch()
    const databasePath = path.join(dir, 'app.sqlite')
    const imageRootDir = path.join(dir, 'images')
    fs.mkdirSync(imageRootDir)
    writeLegacyDatabase(databasePath, rows)
    return { dir, databasePath, imageRootDir }
  }

  /** Whether `message` names `file`, as given or relative to the working directory. */
  const names = (message: string, file: string) => message.includes(file) || message.includes(path.relative(process.cwd(), file))

  it('refuses a database holding images with IMPORT_REQUIRED naming pixstore import-3x, writing nothing', () => {
    const { dir, databasePath, imageRootDir } = legacySet(1)
    const before = fs.readFileSync(databasePath)
    const error = thrown(() => open({ databasePath, imageRootDir }))
    expect(error.code).toBe('IMPORT_REQUIRED')
    expect(error.message).toContain('pixstore import-3x')
    expect(names(error.message, databasePath), error.message).toBe(true)
    expect(fs.readFileSync(databasePath).equals(before)).toBe(true)
    expect(listFiles(dir)).toEqual(['app.sqlite'])
  })

  it('starts beside a 3.x database with no images', () => {
    const { databasePath, imageRootDir } = legacySet(0)
    expect(open({ databasePath, imageRootDir }).config.dataDir).toBe(path.join(imageRootDir, 'pixstore.data'))
  })

  it('still refuses once the data directory holds a Pixstore database, until an import into it has finished', async () => {
    const { databasePath, imageRootDir } = legacySet(1)
    const dataDir = scratch()
    // What an import that failed or was stopped leaves: a database, and no mark of a finished import.
    await lib.createPixstoreBackend({ dataDir }).close()
    expect(thrown(() => open({ databasePath, imageRootDir, dataDir })).code).toBe('IMPORT_REQUIRED')
    markImported(dataDir, { database: databasePath })
    expect(open({ databasePath, imageRootDir, dataDir }).config.dataDir).toBe(dataDir)
  })

  it.each(['.pixstore.sqlite', '.pixstore-test.sqlite'])('without options, refuses when the working directory holds a 3.x %s with images', async (name) => {
    const cwd = scratch()
    writeLegacyDatabase(path.join(cwd, name), 1)
    const error = await inDirectory(cwd, () => thrown(() => open()))
    expect(error).toMatchObject({ code: 'IMPORT_REQUIRED', message: expect.stringContaining(name) })
    expect(listFiles(cwd)).toEqual([name])
  })
})
