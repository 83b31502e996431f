import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { createDecipheriv, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPixstoreBackend, type PixstoreBackend } from 'pixstore/backend'
import sharp from 'sharp'
import { PayloadState, decodePayload } from 'pixstore/shared'
import { samplePicture } from '../../demo/sample-images.js'
import { decryptVariantPayload, fixture, tempDir } from '../helpers.js'

const run = promisify(execFile)
const cliPath = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url))
const fixtures = ['sample-lossless.webp', 'sample.avif', 'sample.gif', 'sample.jpg', 'sample.png', 'sample.webp']
const newKey = (id: string) => `${id}:${randomBytes(32).toString('base64')}`
const masterKey = newKey('cli')
const proofSecret = `cli-${randomBytes(30).toString('base64url')}`
const both = { PIXSTORE_MASTER_KEY: masterKey, PIXSTORE_PROOF_SECRET: proofSecret }

interface Result {
  code: number
  stdout: string
  stderr: string
}

describe('the ops CLI', () => {
  let work: ReturnType<typeof tempDir>
  let dataDir: string
  let folder: string
  const open: PixstoreBackend[] = []

  /** Runs `node dist/cli/index.js` with exactly the given Pixstore variables. */
  async function cli(args: string[], env: Record<string, string> = both): Promise<Result> {
    try {
      const { stdout, stderr } = await run(process.execPath, [cliPath, ...args], { cwd: work.dir, env: { PATH: process.env.PATH ?? '', ...env } })
      return { code: 0, stdout, stderr }
    } catch (error) {
      const failed = error as { code?: unknown; stdout?: string; stderr?: string }
      if (typeof failed.code !== 'number') throw error
      return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' }
    }
  }
  /** Imports the folder; returns the result and the imported ids by file name. */
  async function importFolder(env: Record<string, string> = both, extra: string[] = []) {
    const result = await cli(['import', folder, '--data-dir', dataDir, ...extra], env)
    const ids = new Map<string, string>()
    for (const line of result.stdout.split('\n')) {
      const [file, id] = line.split('\t')
      if (file && id && !/\s/.test(id)) ids.set(path.basename(file), id)
    }
    return { ...result, ids }
  }
  const rows = () => {
    const db = new Database(path.join(dataDir, 'pixstore.sqlite'), { readonly: true, fileMustExist: true })
    try {
      return db.prepare('SELECT id, blob_key FROM pixstore_images ORDER BY id').all() as { id: string; blob_key: string }[]
    } finally {
      db.close()
    }
  }
  const blobFile = (key: string) => path.join(dataDir, 'images', key.slice(0, 2), key)
  const lines = (file: string) => fs.readFileSync(path.join(dataDir, file), 'utf8').split('\n').filter(Boolean)
  /** Opens a backend on the data dir with the given environment and checks that every id serves its fixture byte for byte. */
  async function expectImagesServed(ids: Map<string, string>, env: Record<string, string>) {
    for (const name of ['PIXSTORE_MASTER_KEY', 'PIXSTORE_PROOF_SECRET']) vi.stubEnv(name, env[name] ?? '')
    const backend = createPixstoreBackend({ dataDir, inlineImageMaxBytes: 0 })
    open.push(backend)
    for (const [name, id] of ids) {
      const record = backend.getImageRecord(id)!
      const payload = decodePayload(await backend.customEndpointHelper(id, undefined, record.statelessProof))
      if (payload.state !== PayloadState.Updated) throw new Error(`expected an Updated payload for ${name}, got ${payload.state}`)
      const decipher = createDecipheriv('aes-256-gcm', payload.key, payload.iv).setAuthTag(payload.tag)
      const plain = Buffer.concat([decipher.update(payload.ciphertext), decipher.final()])
      expect(plain.subarray(1).equals(fixture(name))).toBe(true)
    }
    return backend
  }

  beforeEach(() => {
    work = tempDir('pixstore-cli-')
    dataDir = path.join(work.dir, 'data')
    folder = path.join(work.dir, 'in')
    fs.mkdirSync(folder)
    for (const name of fixtures) fs.writeFileSync(path.join(folder, name), fixture(name))
    fs.writeFileSync(path.join(folder, 'fake.png'), 'this is a text file, not a PNG\n')
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'not an image extension: skipped\n')
  })
  afterEach(async () => {
    for (const backend of open.splice(0)) await backend.close()
    vi.unstubAllEnvs()
    work.remove()
  })

  it('prints usage with --help or help and exits 0; exits 2 without a command; prints the version with --version', async () => {
    for (const args of [['--help'], ['help'], ['-h']]) {
      const help = await cli(args)
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(/^Usage: pixstore <command>/)
      for (const command of ['import', 'verify', 'gc', 'rotate-master-key', 'rotate-proof-secret', 'stats', 'instances']) expect(help.stdout).toContain(command)
    }
    expect((await cli([])).code).toBe(2)
    const { version } = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string }
    for (const args of [['--version'], ['-v']]) expect(await cli(args)).toMatchObject({ code: 0, stdout: `${version}\n` })
  })

  it('import skips a FIFO, a device link and symlinks out of the folder, escapes control characters, and imports nothing twice', async () => {
    const outside = path.join(work.dir, 'outside.png')
    fs.writeFileSync(outside, fixture('sample.png'))
    fs.symlinkSync(outside, path.join(folder, 'escape.png'))
    fs.symlinkSync('/dev/zero', path.join(folder, 'zero.png'))
    fs.symlinkSync(path.join(folder, 'sample.png'), path.join(folder, 'again.png'))
    execFileSync('mkfifo', [path.join(folder, 'pipe.png')])
    fs.mkdirSync(path.join(folder, 'sub.png'))
    const hostile = 'evil\u001b[31mred\u0007.png'
    fs.writeFileSync(path.join(folder, hostile), samplePicture(3, 20))
    const first = await importFolder()
    expect(first.code).toBe(1)
    const skipped = (name: string, reason: string) => expect(first.stdout).toContain(`${path.join(folder, name)}\tSKIPPED: ${reason}`)
    skipped('escape.png', 'a symbolic link out of the folder')
    skipped('zero.png', 'a symbolic link out of the folder')
    skipped('pipe.png', 'not a regular file')
    skipped('sub.png', 'a folder')
    expect([...first.stdout].filter((c) => c < ' ' && c !== '\n' && c !== '\t')).toEqual([])
    expect(first.stdout).toContain('evil\\x1b[31mred\\x07.png\t')
    // again.png links to sample.png inside the folder: the same image, imported once.
    expect(first.stdout).toMatch(/again\.png\tALREADY IMPORTED as \S+|sample\.png\tALREADY IMPORTED as \S+/)
    expect(first.stdout).toContain('7 imported, 1 already imported, 5 skipped, 1 failed')
    const second = await importFolder()
    expect(second.stdout).toContain('0 imported, 8 already imported, 5 skipped, 1 failed')
    const stats = JSON.parse((await cli(['stats', '--json', '--data-dir', dataDir])).stdout) as { images: number }
    expect(stats.images).toBe(7)
  })

  it('exits 2 naming an unknown command', async () => {
    await importFolder()
    const result = await cli(['frobnicate', '--data-dir', dataDir])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('Unknown command "frobnicate"')
  })

  it('names an unknown command even where there is no data directory', async () => {
    // A mistyped command must not be reported as missing data.
    const result = await cli(['frobnicate', '--data-dir', path.join(work.dir, 'nowhere')])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('Unknown command "frobnicate"')
  })

  it('exits 2 saying "No Pixstore data" for stats on a missing data dir, without creating it', async () => {
    const missing = path.join(work.dir, 'nowhere')
    const result = await cli(['stats', '--data-dir', missing])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('No Pixstore data')
    expect(fs.existsSync(missing)).toBe(false)
  })

  it('imports every image of a folder, reports a fake image as INVALID_IMAGE and exits 1', async () => {
    const result = await importFolder()
    expect(result.code).toBe(1)
    expect([...result.ids.keys()].sort()).toEqual(fixtures)
    for (const [name, id] of result.ids) expect(result.stdout).toContain(`${path.join(folder, name)}\t${id}\n`)
    expect(result.stdout).toContain(`${path.join(folder, 'fake.png')}\tFAILED INVALID_IMAGE`)
    expect(result.stdout).toContain('6 imported, 0 already imported, 1 skipped, 1 failed')
    expect(result.stdout).toContain(`${path.join(folder, 'notes.txt')}\tSKIPPED: not an image file name`)
    // No progress bar when stderr is not a terminal: logs stay clean.
    expect(result.stderr).toBe('')
    // The keys and secret came from the environment: none was written to the data dir.
    expect(fs.existsSync(path.join(dataDir, 'master-keys'))).toBe(false)
    expect(fs.existsSync(path.join(dataDir, 'proof-secret'))).toBe(false)
    await expectImagesServed(result.ids, both)
  })

  it('prints parseable JSON with --json and prefixes ids with --dir', async () => {
    const result = await importFolder(both, ['--json', '--dir', 'avatars'])
    const parsed = JSON.parse(result.stdout) as { imported: { file: string; id: string }[]; failed: { file: string; code: string }[] }
    expect(parsed.imported).toHaveLength(6)
    for (const { id } of parsed.imported) expect(id).toMatch(/^avatars:/)
    expect(parsed.failed).toEqual([expect.objectContaining({ file: path.join(folder, 'fake.png'), code: 'INVALID_IMAGE' })])
    const stats = JSON.parse((await cli(['stats', '--json', '--data-dir', dataDir])).stdout) as { images: number }
    expect(stats.images).toBe(6)
    const verify = JSON.parse((await cli(['verify', '--json', '--data-dir', dataDir])).stdout) as { checked: number; ok: number }
    expect(verify).toMatchObject({ checked: 6, ok: 6, failures: [] })
  })

  it('verify exits 0 on a healthy store and 1 naming the id of a tampered image', async () => {
    await importFolder()
    const healthy = await cli(['verify', '--data-dir', dataDir])
    expect(healthy.code).toBe(0)
    expect(healthy.stdout).toContain('6 checked, 6 ok, 0 failed')
    // Small images are kept inside the database: flip a byte of one there.
    const [victim] = rows()
    const db = new Database(path.join(dataDir, 'pixstore.sqlite'))
    const bytes = db.prepare('SELECT data FROM pixstore_inline_blobs WHERE key = ?').pluck().get(victim!.blob_key) as Buffer
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x01
    db.prepare('UPDATE pixstore_inline_blobs SET data = ? WHERE key = ?').run(bytes, victim!.blob_key)
    db.close()
    const tampered = await cli(['verify', '--data-dir', dataDir])
    expect(tampered.code).toBe(1)
    expect(tampered.stdout).toContain(`${victim!.id}\tdecrypt-failed`)
    expect(tampered.stdout).toContain('6 checked, 5 ok, 1 failed')
  })

  it('variants gives every image the variants it lacks, resumes, and verify and gc see them', async () => {
    const big = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#a53' } }).jpeg().toBuffer()
    fs.writeFileSync(path.join(folder, 'big.jpg'), big)
    const { ids } = await importFolder()
    expect((await cli(['variants', '--data-dir', dataDir])).code).toBe(2)
    const first = await cli(['variants', '--widths', '64,200', '--formats', 'webp,avif', '--data-dir', dataDir, '--json'])
    expect(first.code).toBe(0)
    // The 96-pixel fixtures get the 64 widths; the 400-pixel photo gets both.
    expect(JSON.parse(first.stdout)).toEqual({ checked: 7, made: 7, alreadyDone: 0, changedMeanwhile: 0, failed: [] })
    const again = await cli(['variants', '--widths', '64,200', '--formats', 'webp,avif', '--data-dir', dataDir, '--json'])
    expect(JSON.parse(again.stdout)).toMatchObject({ checked: 7, made: 0, alreadyDone: 7 })
    const backend = await expectImagesServed(new Map([...ids].filter(([name]) => name !== 'big.jpg')), both)
    const record = backend.getImageRecord(ids.get('big.jpg')!)!
    expect(record.variants!.map((v) => `${v.width}.${v.format}`)).toEqual(['64.avif', '64.webp', '200.avif', '200.webp'])
    expect(record.placeholder).toBeTypeOf('string')
    const payload = await backend.customEndpointHelper(record.id, record.token, record.statelessProof, { variant: '200.webp' })
    expect((await sharp(decryptVariantPayload(payload, record, '200.webp')).metadata()).width).toBe(200)
    // verify checks every variant, and gc keeps them all.
    expect((await cli(['verify', '--data-dir', dataDir])).stdout).toContain('7 checked, 7 ok, 0 failed')
    expect(JSON.parse((await cli(['gc', '--older-than', '0', '--data-dir', dataDir, '--json'])).stdout).removed).toEqual([])
    // Files no row names are variants: remove one.
    const originals = new Set(rows().map((r) => r.blob_key))
    const variantFile = fs.readdirSync(path.join(dataDir, 'images'), { recursive: true, withFileTypes: true }).find((entry) => entry.isFile() && !originals.has(entry.name))!
    fs.rmSync(path.join(variantFile.parentPath, variantFile.name))
    const damaged = await cli(['verify', '--data-dir', dataDir])
    expect(damaged.code).toBe(1)
    expect(damaged.stdout).toMatch(/\(variant \d+\.(webp|avif)\)\tmissing-file/)
  })

  it('gc keeps a young orphan by default and removes it with --older-than 0', async () => {
    await importFolder()
    const orphan = randomBytes(16).toString('hex')
    fs.mkdirSync(path.dirname(blobFile(orphan)), { recursive: true })
    fs.writeFileSync(blobFile(orphan), randomBytes(64))
    const kept = await cli(['gc', '--data-dir', dataDir])
    expect(kept.code).toBe(0)
    expect(kept.stdout).toContain('7 files scanned, 0 orphans removed, 1 orphans younger than 15 min kept')
    expect((await cli(['gc', '--older-than', '0', '--dry-run', '--data-dir', dataDir])).stdout).toContain('1 orphans would be removed')
    expect(fs.existsSync(blobFile(orphan))).toBe(true)
    const removed = await cli(['gc', '--older-than', '0', '--data-dir', dataDir])
    expect(removed.code).toBe(0)
    expect(removed.stdout).toContain('1 orphans removed')
    expect(fs.existsSync(blobFile(orphan))).toBe(false)
    expect((await cli(['verify', '--data-dir', dataDir])).code).toBe(0)
  })

  it('stats prints the image count, the formats and the encrypted files', async () => {
    await importFolder()
    const result = await cli(['stats', '--data-dir', dataDir])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^images: 6$/m)
    expect(result.stdout).toMatch(/^encrypted files: 6 \(\d+ bytes\)$/m)
    const formats = result.stdout.match(/^formats: (.*)$/m)![1]!.split(', ').sort()
    expect(formats).toEqual(['avif 1', 'gif 1', 'jpeg 1', 'png 1', 'webp 2'])
  })

  it('rotate-master-key replaces the key kept in the data directory, and the images still decrypt', async () => {
    const fileMode = { PIXSTORE_PROOF_SECRET: proofSecret }
    const { ids } = await importFolder(fileMode)
    const before = lines('master-keys')
    expect(before).toHaveLength(1)
    const result = await cli(['rotate-master-key', '--data-dir', dataDir], fileMode)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('6 keys rewrapped')
    expect(result.stdout).toContain('the old keys were removed from the data directory')
    const after = lines('master-keys')
    expect(after).toHaveLength(1)
    expect(after[0]).not.toBe(before[0])
    expect(after[0]!.split(':')[0]).not.toBe(before[0]!.split(':')[0])
    expect((await cli(['verify', '--data-dir', dataDir], fileMode)).code).toBe(0)
    const backend = await expectImagesServed(ids, fileMode)
    expect(backend.masterKeySource).toBe('loaded')
  })

  it('rotate-master-key with keys from PIXSTORE_MASTER_KEY rewraps under the first and says the others can go', async () => {
    const { ids } = await importFolder()
    const next = newKey('next')
    const result = await cli(['rotate-master-key', '--data-dir', dataDir], { ...both, PIXSTORE_MASTER_KEY: `${next},${masterKey}` })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('6 keys rewrapped under "next"')
    expect(result.stdout).toContain('no image needs cli any more: remove them from PIXSTORE_MASTER_KEY of every process')
    const onlyNext = { ...both, PIXSTORE_MASTER_KEY: next }
    expect((await cli(['verify', '--data-dir', dataDir], onlyNext)).code).toBe(0)
    expect((await cli(['verify', '--data-dir', dataDir])).code).toBe(1)
    expect(fs.existsSync(path.join(dataDir, 'master-keys'))).toBe(false)
    await expectImagesServed(ids, onlyNext)
  })

  it('rotate-proof-secret puts a new secret first in file mode and refuses in environment mode', async () => {
    const fileMode = { PIXSTORE_MASTER_KEY: masterKey }
    await importFolder(fileMode)
    const before = lines('proof-secret')
    expect(before).toHaveLength(1)
    const rotated = await cli(['rotate-proof-secret', '--data-dir', dataDir], fileMode)
    expect(rotated.code).toBe(0)
    const after = lines('proof-secret')
    expect(after).toHaveLength(2)
    expect(after[0]).not.toBe(before[0])
    expect(after[1]).toMatch(new RegExp(`^${before[0]} retired:\\d+$`))

    const refused = await cli(['rotate-proof-secret', '--data-dir', dataDir])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('PIXSTORE_PROOF_SECRET')
    expect(lines('proof-secret')).toEqual(after)
  })

  it('runs one key rotation at a time: a live holder of rotation.lock is named, a dead one is taken over', async () => {
    const fileMode = { PIXSTORE_PROOF_SECRET: proofSecret }
    await importFolder(fileMode)
    const lock = path.join(dataDir, 'rotation.lock')
    fs.writeFileSync(lock, `${process.pid}\n${os.hostname()}\n`)
    const before = lines('master-keys')
    const refused = await cli(['rotate-master-key', '--data-dir', dataDir], fileMode)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(`LOCKED: pixstore rotate-master-key is already running (pid ${process.pid}`)
    expect(lines('master-keys')).toEqual(before)
    const secretRefused = await cli(['rotate-proof-secret', '--data-dir', dataDir], { PIXSTORE_MASTER_KEY: masterKey })
    expect(secretRefused.stderr).toContain('LOCKED')
    // A holder that is gone (this pid no longer runs) leaves a stale lock: the next run takes it over.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid
    fs.writeFileSync(lock, `${gone}\n${os.hostname()}\n`)
    const rotated = await cli(['rotate-master-key', '--data-dir', dataDir], fileMode)
    expect(rotated.code).toBe(0)
    expect(fs.existsSync(lock)).toBe(false)
  })

  it('rotate-proof-secret keeps a secret added to the file by hand for a while, as if it had just stopped signing', async () => {
    const fileMode = { PIXSTORE_MASTER_KEY: masterKey }
    await importFolder(fileMode)
    const manual = `manual-${randomBytes(30).toString('base64url')}`
    fs.writeFileSync(path.join(dataDir, 'proof-secret'), `${manual}\n${lines('proof-secret').join('\n')}\n`)
    const before = lines('proof-secret')
    expect((await cli(['rotate-proof-secret', '--data-dir', dataDir], fileMode)).code).toBe(0)
    const after = lines('proof-secret').map((line) => line.split(' ')[0])
    expect(after).toHaveLength(3)
    expect(after.slice(1)).toEqual(before)
  })
})
