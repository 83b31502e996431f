/**
 * Every stable error code Pixstore reports. Match on these, never on message text.
 *
 * Expected codes describe bad input or a state the app can recover from (an image that
 * does not exist, an expired proof, a file that is not an image). Unexpected codes
 * describe a broken set-up or a fault (invalid configuration, storage failures).
 */
export type PixstoreErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'MISSING_ID'
  | 'INVALID_ID'
  | 'MISSING_PROOF'
  | 'INVALID_PROOF'
  | 'INVALID_IMAGE'
  | 'TOO_LARGE'
  | 'INVALID_RECORD'
  | 'INVALID_PAYLOAD'
  | 'STALE_PAYLOAD'
  | 'DECRYPT_FAILED'
  | 'FETCH_FAILED'
  | 'ABORTED'
  | 'SERVER_ERROR'
  | 'INVALID_CONFIG'
  | 'INVALID_ARGUMENT'
  | 'NOT_INITIALIZED'
  | 'ALREADY_INITIALIZED'
  | 'UNSUPPORTED'
  | 'MISSING_DEPENDENCY'
  | 'STORAGE_FAILED'
  | 'KEY_RETIRED'
  | 'LOCKED'
  | 'IMPORT_REQUIRED'
  | 'INTERNAL'

const expectedCodes: ReadonlySet<PixstoreErrorCode> = new Set<PixstoreErrorCode>([
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'MISSING_ID',
  'INVALID_ID',
  'MISSING_PROOF',
  'INVALID_PROOF',
  'INVALID_IMAGE',
  'TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_PAYLOAD',
  'STALE_PAYLOAD',
  'DECRYPT_FAILED',
  'FETCH_FAILED',
  'ABORTED',
  'SERVER_ERROR',
])

/**
 * The one error class Pixstore throws or reports.
 *
 * @example
 * ```ts
 * try { await updateImage(id, bytes) } catch (e) {
 *   if (e instanceof PixstoreError && e.code === 'TOO_LARGE') showTooLarge()
 * }
 * ```
 */
export class PixstoreError extends Error {
  // A literal, so that the name survives minifiers that rename classes.
  override readonly name = 'PixstoreError' as const
  /** The stable code of this error. */
  readonly code: PixstoreErrorCode

  constructor(code: PixstoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  /** Whether this error is bad input or a recoverable state rather than a fault. */
  get expected(): boolean {
    return expectedCodes.has(this.code)
  }
}

/** Whether `value` is a {@link PixstoreError}, also across bundle copies of this module. */
export function isPixstoreError(value: unknown): value is PixstoreError {
  return (
    value instanceof PixstoreError ||
    (value instanceof Error && value.name === 'PixstoreError' && typeof (value as { code?: unknown }).code === 'string')
  )
}

/** Turns anything thrown into a {@link PixstoreError}, keeping the original as `cause`. */
export function toPixstoreError(value: unknown): PixstoreError {
  if (value instanceof PixstoreError) return value
  const detail = value instanceof Error ? value.message : String(value)
  return new PixstoreError('INTERNAL', `Unexpected error: ${detail}`, { cause: value })
}
