import fs from 'node:fs'
import { PixstoreError } from '../shared/errors.js'

/**
 * Reads an image file of at most `maxBytes`. Only a regular file is read, and never more
 * than `maxBytes + 1` bytes of it, whatever `stat` said: a FIFO, a device such as
 * `/dev/zero` or a file that grows while it is read cannot make the read block or run
 * without bound. The file is opened non-blocking, so that opening a FIFO with no writer
 * does not wait for one.
 *
 * @throws PixstoreError `INVALID_ARGUMENT` for no path, `INVALID_IMAGE` for a path that is missing or not a regular file,
 * `TOO_LARGE` for a file over `maxBytes`.
 */
export async function readImageFileWithin(file: unknown, maxBytes: number): Promise<Uint8Array> {
  if (typeof file !== 'string' || file.length === 0) throw new PixstoreError('INVALID_ARGUMENT', 'A file path is required')
  let handle: fs.promises.FileHandle
  try {
    handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  } catch (cause) {
    throw new PixstoreError('INVALID_IMAGE', `Could not read the image file ${file}`, { cause })
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new PixstoreError('INVALID_IMAGE', `${file} is not a regular file`)
    if (stat.size > maxBytes) throw tooLarge(stat.size, maxBytes)
    // Room for one byte past what stat said: a file that grew shows it.
    let buffer = Buffer.allocUnsafe(Math.min(stat.size, maxBytes) + 1)
    let filled = 0
    for (;;) {
      if (filled === buffer.length) {
        if (filled > maxBytes) throw tooLarge(filled, maxBytes, true)
        const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, maxBytes + 1))
        buffer.copy(bigger, 0, 0, filled)
        buffer = bigger
      }
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    return buffer.subarray(0, filled)
  } catch (error) {
    if (error instanceof PixstoreError) throw error
    throw new PixstoreError('INVALID_IMAGE', `Could not read the image file ${file}`, { cause: error })
  } finally {
    await handle.close()
  }
}

const tooLarge = (size: number, maxBytes: number, atLeast = false) =>
  new PixstoreError('TOO_LARGE', `The image is ${atLeast ? 'over ' : ''}${atLeast ? maxBytes : size} bytes; the limit is ${maxBytes} bytes (option imageMaxBytes)`)
