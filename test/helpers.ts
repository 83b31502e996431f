import { createDecipheriv, createHash, hkdfSync } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import type { PixstoreBackend } from 'pixstore/backend'
import type { ImageRecord } from 'pixstore/types'

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url))

/** The bytes of a file in test/fixtures. */
export function fixture(name: string): Buffer {
  return fs.readFileSync(path.join(fixtures, name))
}

/** The path of a file in test/fixtures. */
export function fixturePath(name: string): string {
  return path.join(fixtures, name)
}

/** Hex SHA-256 of bytes or a Blob. */
export async function sha256(data: Uint8Array | Blob): Promise<string> {
  const bytes = data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : data
  return createHash('sha256').update(bytes).digest('hex')
}

/** A fresh temporary folder; remove it with the returned function. */
export function tempDir(prefix = 'pixstore-test-'): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

/** Every file below `dir`, relative paths, sorted. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort()
}

let databases = 0
/** A database name no other test uses, for frontend isolation. */
export function uniqueDbName(): string {
  return `pixstore-test-${process.pid}-${++databases}-${Date.now()}`
}

/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A small seeded pseudo-random generator (mulberry32), so that fuzz runs can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed | 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Decrypts an encoded Updated payload (`[1][token][key][iv][tag][ciphertext]`) as a client
 * would, and returns the image bytes (the plaintext after its format byte).
 */
export function decryptUpdatedPayload(payload: Uint8Array): Buffer {
  if (payload[0] !== 1) throw new Error(`expected an Updated payload, got state ${payload[0]}`)
  const decipher = createDecipheriv('aes-256-gcm', payload.subarray(9, 41), payload.subarray(41, 53))
  decipher.setAuthTag(payload.subarray(53, 69))
  return Buffer.concat([decipher.update(payload.subarray(69)), decipher.final()]).subarray(1)
}

/** How many files this process holds open below `dir` (Linux: read from /proc/self/fd). */
export function openFilesUnder(dir: string): number {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)
    } catch {
      return false
    }
  }).length
}

/**
 * Collects the errors the module functions of a default instance report, for tests that
 * check why a call returned `null`: pass `onError` to `initPixstoreFrontend` or `initPixstoreBackend`.
 */
export function errorLog() {
  const errors: { code: string; message: string }[] = []
  return {
    onError: (error: { code: string; message: string }) => void errors.push(error),
    last: () => errors[errors.length - 1],
    clear: () => void (errors.length = 0),
  }
}

/** What saving `bytes` through `backend` comes to: `ACCEPTED`, or the code of the error. */
export async function saveOutcome(backend: Pick<PixstoreBackend, 'saveImage'>, bytes: Uint8Array): Promise<string> {
  try {
    await backend.saveImage(bytes)
    return 'ACCEPTED'
  } catch (error) {
    return (error as { code: string }).code
  }
}

/**
 * Decrypts an encoded Variant payload (`[7][ciphertext][tag]`) of variant `name` of `record` as
 * a client would: the key and IV are HKDF-SHA-256 of the record's data key, with the variant's
 * salt and the info `pixstore variant <name>`.
 */
export function decryptVariantPayload(payload: Uint8Array, record: ImageRecord, name: string): Buffer {
  if (payload[0] !== 7) throw new Error(`expected a Variant payload, got state ${payload[0]}`)
  const variant = record.variants?.find((v) => `${v.width}.${v.format}` === name)
  if (!variant) throw new Error(`the record has no variant ${name}`)
  const salt = Buffer.from(variant.salt, 'base64')
  const material = Buffer.from(hkdfSync('sha256', Buffer.from(record.meta.key, 'base64'), salt, `pixstore variant ${name}`, 44))
  const decipher = createDecipheriv('aes-256-gcm', material.subarray(0, 32), material.subarray(32))
  decipher.setAuthTag(payload.subarray(payload.length - 16))
  return Buffer.concat([decipher.update(payload.subarray(1, payload.length - 16)), decipher.final()])
}

/** A noisy 1600 × 1200 JPEG photo (noise keeps the encoders honest about size). */
export async function photo(width = 1600, height = 1200): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#3a6', noise: { type: 'gaussian', mean: 120, sigma: 40 } } })
    .jpeg({ quality: 85 })
    .toBuffer()
}

