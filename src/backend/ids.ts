import { randomBytes } from 'node:crypto'
import { PixstoreError } from '../shared/errors.js'
import { MAX_ID_LENGTH, isValidId } from '../shared/ids.js'

export { MAX_ID_LENGTH, isValidId } from '../shared/ids.js'

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
      `An image id must be 1 to ${MAX_ID_LENGTH} characters of letters, digits and _ - . : @, without ".." and not "."`,
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
