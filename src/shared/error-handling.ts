import { PixstoreError, toPixstoreError } from './errors.js'
import { warn } from './log.js'
import { ownProperties, requireOption } from './options.js'

/**
 * How the seed-style module functions (`saveImage`, `getImage`, ...) of the default
 * instance report an error; instances made with `createPixstoreBackend` or
 * `createPixstoreFrontend` always throw.
 * - `hybrid` (default): expected errors (bad input, a missing image, an expired proof)
 *   make the call return `null`; unexpected ones (set-up, faults) throw.
 * - `throw`: every error throws.
 * - `warn`: every error is logged with `console.warn` and the call returns `null`.
 * - `silent` and `custom`: every error makes the call return `null` (use `onError` to see it).
 *
 * `INVALID_CONFIG` always throws, whatever the mode.
 */
export type ErrorHandlingMode = 'hybrid' | 'throw' | 'warn' | 'silent' | 'custom'

/** The modes {@link ErrorHandlingMode} allows, for validation. */
export const errorHandlingModes: readonly ErrorHandlingMode[] = ['hybrid', 'throw', 'warn', 'silent', 'custom']

/** How the default instance of `initPixstoreBackend` or `initPixstoreFrontend` reports errors. */
export interface ErrorReportingOptions {
  /** See {@link ErrorHandlingMode}. Default `hybrid`. */
  errorHandlingMode?: ErrorHandlingMode
  /** Called with every error a module function reports, before it returns `null` or throws. */
  onError?: (error: PixstoreError) => void
}

/** Runs calls and reports what they throw, as one default instance's options say. */
export interface ErrorReporter {
  run<T>(action: () => Promise<T>): Promise<T | null>
  runSync<T>(action: () => T): T | null
}

/** The reporter of a default instance. */
export function createErrorReporter({ errorHandlingMode: mode = 'hybrid', onError }: ErrorReportingOptions = {}): ErrorReporter {
  const report = (value: unknown): null => {
    const error = toPixstoreError(value)
    try {
      onError?.(error)
    } catch (hookError) {
      // The app's hook failing must not replace the error it was told about.
      warn(`onError threw: ${hookError instanceof Error ? hookError.message : String(hookError)}`)
    }
    if (error.code === 'INVALID_CONFIG' || mode === 'throw' || (mode === 'hybrid' && !error.expected)) throw error
    if (mode === 'warn') warn(`${error.code}: ${error.message}`)
    return null
  }
  return {
    async run(action) {
      try {
        return await action()
      } catch (error) {
        return report(error)
      }
    },
    runSync(action) {
      try {
        return action()
      } catch (error) {
        return report(error)
      }
    },
  }
}

/**
 * Refuses the error reporting options in an instance's configuration: they belong to the
 * default instance of `initName`, and an instance's methods always throw.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming the option and `initName`.
 */
export function refuseReportingOptions(config: object, where: string, initName: string): void {
  for (const name of ['errorHandlingMode', 'onError']) {
    if (name in config) {
      throw new PixstoreError('INVALID_CONFIG', `${where}: "${name}" is an option of ${initName}, for its module functions; an instance's methods always throw`)
    }
  }
}

/**
 * Takes the error reporting options of `initPixstoreBackend` or `initPixstoreFrontend` out of
 * `config`, validated, and returns them apart from the rest.
 *
 * @throws PixstoreError `INVALID_CONFIG` naming the option.
 */
export function splitReporting<T extends object>(config: (T & ErrorReportingOptions) | undefined, where: string): { reporting: ErrorReportingOptions; rest: T } {
  requireOption(config === undefined || (typeof config === 'object' && config !== null), where, 'config', 'must be an object')
  const { errorHandlingMode, onError, ...rest } = ownProperties(config ?? ({} as T & ErrorReportingOptions))
  requireOption(
    errorHandlingMode === undefined || errorHandlingModes.includes(errorHandlingMode),
    where,
    'errorHandlingMode',
    `must be one of ${errorHandlingModes.join(', ')}`,
  )
  requireOption(onError === undefined || typeof onError === 'function', where, 'onError', 'must be a function')
  return { reporting: { errorHandlingMode, onError }, rest: rest as T }
}

