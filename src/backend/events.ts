import type { PixstoreErrorCode } from '../shared/errors.js'
import { isPixstoreError } from '../shared/errors.js'
import { warnOnce } from '../shared/log.js'
import type { ServedImage } from './serving.js'

/**
 * What a backend instance did, for metrics and traces (`onEvent`): one event per image
 * request answered, and one per save, update or delete.
 */
export type PixstoreEvent =
  | {
      type: 'serve'
      /** The id asked for, if it was a valid one. */
      id: string | undefined
      /** What the route answered: an image (`current`: the client's version, `updated`: another), or why not. */
      state: ServedImage['state']
      /** Bytes of the answer's payload. */
      bytes: number
      /** Time to check the proof and find the image's bytes, in ms (the sending is the HTTP server's). */
      durationMs: number
      /** Of that, time spent in the metadata store, in ms. */
      metadataMs: number
      /** Of that, time spent reading or opening the encrypted image, in ms. */
      blobMs: number
    }
  | {
      type: 'save' | 'update' | 'delete'
      id: string | undefined
      /** Whether it succeeded; else `code` says why. */
      ok: boolean
      code?: PixstoreErrorCode
      /** Size of the image stored (saves and updates that succeeded). */
      bytes?: number
      durationMs: number
    }

/** Sends events to the app's hook, if it gave one; a hook that throws is reported, never let through. */
export function createEvents(hook: ((event: PixstoreEvent) => void) | undefined) {
  const report = (error: unknown) =>
    warnOnce('onEvent-threw', `onEvent threw (reported once): ${error instanceof Error ? error.message : String(error)}`)
  const emit = (event: PixstoreEvent) => {
    if (!hook) return
    try {
      // An async hook type-checks as one returning void: its rejection is caught too.
      const returned: unknown = hook(event)
      if (returned instanceof Promise) returned.catch(report)
    } catch (error) {
      report(error)
    }
  }
  return {
    enabled: hook !== undefined,
    emit,
    /** Runs a write and emits its outcome. */
    async write<T>(
      type: 'save' | 'update' | 'delete',
      id: string | undefined,
      action: () => Promise<T>,
      describe?: (result: T) => { id: string; bytes?: number },
    ): Promise<T> {
      if (!hook) return action()
      const started = performance.now()
      try {
        const result = await action()
        emit({ type, id, ok: true, ...describe?.(result), durationMs: performance.now() - started })
        return result
      } catch (error) {
        emit({ type, id, ok: false, code: isPixstoreError(error) ? error.code : 'INTERNAL', durationMs: performance.now() - started })
        throw error
      }
    },
  }
}

/** The events of one backend instance. */
export type Events = ReturnType<typeof createEvents>
