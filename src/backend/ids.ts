import { randomBytes } from 'node:crypto'
import { PixstoreError } from '../shared/errors.js'

/** Longest image id accepted, in characters. */
export const MAX_ID_LENGTH = 200

// Letters, digits and `_ - . : @` only, so an id can never name a path, a URL part or a
// control character; `..` is refused outright even though ids never become file names.
const idPattern = /^[A-Za-z0-9_.:@-]+$/

/** Whether `id` is an id Pixstore accepts. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH && idPattern.test(id) && !id.includes('..')
}

/**
 * Checks an image id.
 *
 * @throws PixstoreError `MISSING_ID` for an empty id, `INVALID_ID` for any other invalid one.
 */
export function assertValidId(id: unknown): asserts id is string {
  if (id === undefined || id === null || id === '') throw new PixstoreError('MISSING_ID', 'An image id is required')
  if (!isValidId(id)) {
    throw new PixstoreError(
      'INVALID_ID',
      `An image id must be 1 to ${MAX_ID_LENGTH} characters of letters, digits and _ - . : @, without ".."`,
    )
  }
}

/** A new unguessable id (128 random bits), prefixed `dir:` when a directory name is given. */
export function generateId(dir?: string): string {
  const random = randomBytes(16).toString('base64url')
  if (dir === undefined) return random
  const id = `${dir}:${random}`
  if (!isValidId(dir) || !isValidId(id)) {
    throw new PixstoreError('INVALID_ID', 'A directory prefix must be letters, digits and _ - . : @, without ".."')
  }
  return id
}
