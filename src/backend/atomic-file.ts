import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { PixstoreError } from '../shared/errors.js'

/**
 * Replaces `file` with `content`, owner-only: written and synced under a temporary name,
 * then renamed over it, so a crash leaves the old content or the new, never a mix.
 */
export function writeFileAtomic(file: string, content: string): void {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const fd = fs.openSync(temporary, 'wx', 0o600)
    try {
      fs.writeFileSync(fd, content)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(temporary, file)
    const dir = fs.openSync(path.dirname(file), 'r')
    try {
      fs.fsyncSync(dir)
    } finally {
      fs.closeSync(dir)
    }
  } catch (cause) {
    fs.rmSync(temporary, { force: true })
    throw new PixstoreError('STORAGE_FAILED', `Could not write ${file}`, { cause })
  }
}

/**
 * Creates `file` with `content` (owner-only) unless it exists; returns whether this call
 * created it. Written under a temporary name and linked into place: link fails if another
 * process got there first, so processes sharing a folder agree on one content and none
 * reads a half-written file.
 */
export function createFileOnce(file: string, content: string): boolean {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`
  try {
    fs.writeFileSync(temporary, content, { flag: 'wx', mode: 0o600 })
    fs.linkSync(temporary, file)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new PixstoreError('STORAGE_FAILED', `Could not create ${file}`, { cause: error })
  } finally {
    fs.rmSync(temporary, { force: true })
  }
}

/**
 * Reads the non-empty lines, trimmed, of a file that holds secrets (master keys, proof
 * secrets), or `undefined` if there is none. It must be a regular file that only its owner can read: with the database, a key
 * file readable by any local user lets that user decrypt everything.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming the file and the `chmod` that fixes it;
 * `STORAGE_FAILED` if it cannot be read.
 */
export function readSecretLines(file: string): string[] | undefined {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new PixstoreError('STORAGE_FAILED', `Could not read ${file}`, { cause })
  }
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) throw new PixstoreError('INVALID_CONFIG', `${file} must be a regular file`)
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw new PixstoreError(
        'INVALID_CONFIG',
        `${file} can be read by other users (mode ${(stat.mode & 0o777).toString(8)}); it holds secrets: run chmod 600 ${file}`,
      )
    }
    return fs
      .readFileSync(fd, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
  } finally {
    fs.closeSync(fd)
  }
}
