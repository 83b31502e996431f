import fsCallbacks from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { ownProperties } from '../../../shared/options.js'
import { PixstoreError } from '../../../shared/errors.js'
import type { BlobStore } from '../blob-store.js'
import { withPartsWriter } from '../write-blobs.js'

const keyPattern = /^[0-9a-f]{32}$/

/** Options of the embedded filesystem blob store. */
export interface FilesystemBlobStoreOptions {
  /** Folder that holds the encrypted files; created if missing. */
  dir: string
}

// Streamed files are read in chunks of this size.
const CHUNK_BYTES = 256 * 1024

/**
 * The `size` bytes of an open file, in chunks read into buffers from `allocate`; the file is
 * closed at the end, on a failure, or by `destroy` (for a stream that will not be read).
 */
function fileChunks(
  handle: fs.FileHandle,
  size: number,
  allocate: (length: number) => Uint8Array,
  fail: (cause: unknown) => Error,
): AsyncIterable<Uint8Array> & { destroy(): void } {
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    handle.close().catch(() => undefined)
  }
  return {
    destroy: close,
    async *[Symbol.asyncIterator]() {
      try {
        for (let position = 0; position < size && !closed; ) {
          const chunk = allocate(Math.min(CHUNK_BYTES, size - position))
          let bytesRead: number
          try {
            ;({ bytesRead } = await handle.read(chunk, 0, chunk.byteLength, position))
          } catch (cause) {
            throw fail(cause)
          }
          // A blob is never changed; a file cut short (by hand) ends the stream where it ends.
          if (bytesRead === 0) return
          position += bytesRead
          yield chunk.subarray(0, bytesRead)
        }
      } finally {
        close()
      }
    },
  }
}

/** Writes every part, in order, from the start of a new file: one `writev` when the system takes them all at once. */
async function writeAll(handle: fs.FileHandle, parts: readonly Uint8Array[]): Promise<void> {
  const rest = parts.filter((part) => part.byteLength > 0)
  while (rest.length > 0) {
    let { bytesWritten } = await handle.writev(rest)
    if (bytesWritten === 0) throw new Error('the file took no bytes')
    // A short write (rare, for a regular file): carry on from where it stopped.
    while (rest.length > 0 && bytesWritten >= rest[0]!.byteLength) bytesWritten -= rest.shift()!.byteLength
    if (rest.length > 0 && bytesWritten > 0) rest[0] = rest[0]!.subarray(bytesWritten)
  }
}

/**
 * The embedded blob store: one file per image version under `dir`, spread over 256
 * sub-folders by the first two characters of the key.
 */
export function createFilesystemBlobStore(given: FilesystemBlobStoreOptions): BlobStore {
  const options = ownProperties(given)
  const root = path.resolve(options.dir)

  const fileOf = (key: string) => {
    // Keys are Pixstore's own, but a malformed one must still never name a path elsewhere.
    if (!keyPattern.test(key)) throw new PixstoreError('INTERNAL', 'Malformed blob key')
    return path.join(root, key.slice(0, 2), key)
  }

  const fail = (what: string, cause: unknown) => {
    const code = (cause as NodeJS.ErrnoException).code
    const detail = code === 'ENOSPC' ? ' (the disk is full)' : code ? ` (${code})` : ''
    return new PixstoreError('STORAGE_FAILED', `Could not ${what} an encrypted image file${detail}`, { cause })
  }

  // Sub-folders known to exist: each is made (and made durable) once per process.
  const madeDirs = new Set<string>()
  const syncDir = async (dir: string) => {
    const handle = await fs.open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
  const makeDir = async (dir: string) => {
    if (madeDirs.has(dir)) return
    await fs.mkdir(dir, { recursive: true })
    await syncDir(root)
    madeDirs.add(dir)
  }

  const writeParts = async (key: string, parts: readonly Uint8Array[]) => {
    const file = fileOf(key)
    const dir = path.dirname(file)
    let handle: fs.FileHandle | undefined
    try {
      await makeDir(dir)
      handle = await fs.open(file, 'wx', 0o600).catch(async (error: NodeJS.ErrnoException) => {
        // A sub-folder removed by hand since: made again.
        if (error.code !== 'ENOENT') throw error
        madeDirs.delete(dir)
        await makeDir(dir)
        return fs.open(file, 'wx', 0o600)
      })
      await writeAll(handle, parts)
      // The bytes and the new directory entry must both be durable, or a crash could
      // forget the file: the two syncs run side by side.
      const opened = handle
      await Promise.all([opened.sync(), syncDir(dir)])
      handle = undefined
      await opened.close()
    } catch (cause) {
      await handle?.close().catch(() => undefined)
      await fs.rm(file, { force: true }).catch(() => undefined)
      throw fail('write', cause)
    }
  }

  const store: BlobStore = {
    write: (key, bytes) => writeParts(key, [bytes]),
    read(key) {
      return this.readWithRoom!(key, 0)
    },
    readWithRoom(key, room, size, allocate = Buffer.allocUnsafe) {
      // The callback forms, far cheaper per request than the promise forms: one buffer, and
      // no fstat when the size is known.
      return new Promise((resolve, reject) => {
        const failed = (cause: NodeJS.ErrnoException | null, fd?: number) => {
          if (fd !== undefined) fsCallbacks.close(fd, () => undefined)
          if (cause?.code === 'ENOENT') resolve(undefined)
          else reject(fail('read', cause))
        }
        const readAll = (fd: number, length: number) => {
          const buffer = allocate(room + length)
          const readFrom = (filled: number) => {
            fsCallbacks.read(fd, buffer, room + filled, length - filled, filled, (readError, bytesRead) => {
              if (readError) return failed(readError, fd)
              if (bytesRead > 0 && filled + bytesRead < length) return readFrom(filled + bytesRead)
              fsCallbacks.close(fd, () => undefined)
              // A file shorter than its row says (never for Pixstore's immutable blobs) reads as what it held.
              resolve(buffer.subarray(0, room + filled + bytesRead))
            })
          }
          readFrom(0)
        }
        fsCallbacks.open(fileOf(key), 'r', (openError, fd) => {
          if (openError) return failed(openError)
          if (size !== undefined) return readAll(fd, size)
          fsCallbacks.fstat(fd, (statError, stat) => (statError ? failed(statError, fd) : readAll(fd, stat.size)))
        })
      })
    },
    async open(key, allocate = Buffer.allocUnsafe) {
      let handle: fs.FileHandle
      try {
        handle = await fs.open(fileOf(key), 'r')
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw fail('read', cause)
      }
      // The open handle keeps the bytes readable even if a newer version removes the file meanwhile.
      try {
        const { size } = await handle.stat()
        return { size, body: fileChunks(handle, size, allocate, (cause) => fail('read', cause)) }
      } catch (cause) {
        await handle.close().catch(() => undefined)
        throw fail('read', cause)
      }
    },
    filePath(key) {
      const file = fileOf(key)
      return { path: file, relativePath: path.relative(root, file).split(path.sep).join('/') }
    },
    async delete(key) {
      // unlink alone (rm would stat the file first): a file already gone is no failure.
      await fs.unlink(fileOf(key)).catch((cause: NodeJS.ErrnoException) => {
        if (cause.code !== 'ENOENT') throw fail('delete', cause)
      })
    },
    async *list() {
      const shards = await fs.readdir(root).catch(() => [] as string[])
      for (const shard of shards.sort()) {
        if (!/^[0-9a-f]{2}$/.test(shard)) continue
        for (const name of (await fs.readdir(path.join(root, shard))).sort()) {
          if (!keyPattern.test(name) || !name.startsWith(shard)) continue
          const stat = await fs.stat(path.join(root, shard, name)).catch(() => undefined)
          if (stat?.isFile()) yield { key: name, size: stat.size, modifiedAt: stat.mtimeMs }
        }
      }
    },
    async check() {
      try {
        await fs.mkdir(root, { recursive: true })
        await fs.access(root, fsCallbacks.constants.W_OK)
      } catch (cause) {
        throw fail('write', cause)
      }
    },
    async close() {},
  }
  return withPartsWriter(store, writeParts)
}
