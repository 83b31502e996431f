import { PixstoreError, toPixstoreError } from './errors.js'
import { warn } from './log.js'

/**
 * How Pixstore reports an error from a public call.
 * - `hybrid` (default): expected errors return `null` and are kept for
 *   {@link getLastPixstoreError}; unexpected ones throw.
 * - `throw`: every error throws.
 * - `warn`: every error is logged with `console.warn` and the call returns `null`.
 * - `silent`: every error makes the call return `null`.
 * - `custom`: every error goes to the handler set with {@link setCustomErrorHandler},
 *   and the call returns `null` unless the handler throws.
 */
export type ErrorHandlingMode = 'hybrid' | 'throw' | 'warn' | 'silent' | 'custom'

/** The modes {@link ErrorHandlingMode} allows, for validation. */
export const errorHandlingModes: readonly ErrorHandlingMode[] = ['hybrid', 'throw', 'warn', 'silent', 'custom']

/** A handler for the `custom` error handling mode. */
export type CustomErrorHandler = (error: PixstoreError) => void

let mode: ErrorHandlingMode = 'hybrid'
let lastError: PixstoreError | null = null
let customHandler: CustomErrorHandler | null = null

/** Sets how errors are reported; `initPixstoreBackend` and `initPixstoreFrontend` call it too. */
export function setErrorHandlingMode(next: ErrorHandlingMode): void {
  if (!errorHandlingModes.includes(next)) {
    throw new PixstoreError('INVALID_CONFIG', `errorHandlingMode must be one of ${errorHandlingModes.join(', ')}`)
  }
  mode = next
}

/** The current error handling mode. */
export function getErrorHandlingMode(): ErrorHandlingMode {
  return mode
}

/** Sets the handler that receives every error in the `custom` mode (`null` removes it). */
export function setCustomErrorHandler(handler: CustomErrorHandler | null): void {
  customHandler = handler
}

/** The last error reported by any Pixstore call in this JavaScript realm, or `null`. */
export function getLastPixstoreError(): PixstoreError | null {
  return lastError
}

/** Forgets the last error, so that a later {@link getLastPixstoreError} returns only new ones. */
export function clearLastPixstoreError(): void {
  lastError = null
}

/**
 * Reports `value` according to the current mode: throws, or returns `null` for the
 * caller to return. Internal to Pixstore's public calls.
 */
export function reportError(value: unknown): null {
  const error = toPixstoreError(value)
  lastError = error
  switch (mode) {
    case 'throw':
      throw error
    case 'hybrid':
      if (!error.expected) throw error
      return null
    case 'warn':
      warn(`${error.code}: ${error.message}`)
      return null
    case 'silent':
      return null
    case 'custom':
      if (customHandler) customHandler(error)
      else warn(`${error.code}: ${error.message} (no custom error handler is set)`)
      return null
  }
}

/** Runs `action` and reports what it throws; the result is `null` where an error was reported. */
export async function reporting<T>(action: () => Promise<T>): Promise<T | null> {
  try {
    return await action()
  } catch (error) {
    return reportError(error)
  }
}

/** Synchronous form of {@link reporting}. */
export function reportingSync<T>(action: () => T): T | null {
  try {
    return action()
  } catch (error) {
    return reportError(error)
  }
}
