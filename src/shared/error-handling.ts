import { PixstoreError, toPixstoreError } from './errors.js'
import { warn, warnOnce } from './log.js'
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

// pixstore 3.x's process-wide hooks, kept so that 3.x apps run unchanged.
const legacyHooks: { handler?: (error: unknown) => void; last: PixstoreError | null } = { last: null }

/**
 * Sets a function that every default instance (backend and frontend) calls with each error
 * its module functions report, after their own `onError`.
 *
 * @deprecated pixstore 3.x: give `onError` to `initPixstoreBackend` and `initPixstoreFrontend`.
 */
export function setCustomErrorHandler(handler: (error: unknown) => void): void {
  warnOnce('legacy-export:setCustomErrorHandler', 'setCustomErrorHandler is a pixstore 3.x function: give "onError" to initPixstoreBackend and initPixstoreFrontend')
  requireOption(typeof handler === 'function', 'setCustomErrorHandler', 'handler', 'must be a function')
  legacyHooks.handler = handler
}

/**
 * The last error any default instance's module function reported, or `null`. Under
 * concurrent calls it may be another call's error.
 *
 * @deprecated pixstore 3.x: use `onError`, or an instance's methods, which throw.
 */
export function getLastPixstoreError(): PixstoreError | null {
  warnOnce('legacy-export:getLastPixstoreError', 'getLastPixstoreError is a pixstore 3.x function: use the "onError" option (it tells each call its own error)')
  return legacyHooks.last
}

/** Calls a hook the app gave, logging what it throws rather than letting it replace the error. */
function callHook(hook: ((error: PixstoreError) => void) | undefined, error: PixstoreError, name: string): void {
  try {
    hook?.(error)
  } catch (hookError) {
    warn(`${name} threw: ${hookError instanceof Error ? hookError.message : String(hookError)}`)
  }
}

/** The reporter of a default instance. */
export function createErrorReporter({ errorHandlingMode: mode = 'hybrid', onError }: ErrorReportingOptions = {}): ErrorReporter {
  const report = (value: unknown): null => {
    const error = toPixstoreError(value)
    callHook(onError, error, 'onError')
    legacyHooks.last = error
    callHook(legacyHooks.handler, error, 'The handler given to setCustomErrorHandler')
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

