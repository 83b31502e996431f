import { useEffect, useRef, useState, type RefObject } from 'react'
import { isPixstoreError, toPixstoreError, type PixstoreError } from '../shared/errors.js'
import { ownProperties } from '../shared/options.js'
import type { RefreshRecord } from '../frontend/loader.js'
import { whenNearViewport } from '../frontend/near-viewport.js'
import { defaultFrontend } from '../frontend/default-instance.js'
import type { PixstoreFrontend } from '../frontend/instance.js'
import type { ImageURL } from '../frontend/object-urls.js'
import type { ImageRecord } from '../types/index.js'
import type { PixstoreImageJsxProps } from '../element/index.js'

// `<pixstore-image>` as a known element in React 19 TSX, for apps that import this entry.
declare module 'react' {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace JSX {
    interface IntrinsicElements {
      'pixstore-image': PixstoreImageJsxProps
    }
  }
}

/** Options of {@link usePixstoreImage}. */
export interface UsePixstoreImageOptions {
  /** Called once if the image route refuses the record's proof; returns a fresh record. */
  refresh?: RefreshRecord
  /** Load only once the element `ref` points at is near the viewport. */
  lazy?: boolean
  /** Passed to a custom fetcher. */
  context?: unknown
  /** The frontend instance to load through. Default: the one `initPixstoreFrontend` configures. */
  frontend?: PixstoreFrontend
}

/** What {@link usePixstoreImage} gives: the object URL once loaded, the status, and the error if any. */
export interface PixstoreImageState<E extends Element = HTMLImageElement> {
  url: string | null
  status: 'idle' | 'loading' | 'loaded' | 'error'
  error: PixstoreError | null
  /** Attach to the element showing the image, for `lazy`. */
  ref: RefObject<E | null>
}

/**
 * The object URL of a record's image, for `<img src>`. Re-renders with a record of the
 * same id and token keep the URL; a new token loads the new version; unmounting releases
 * the URL (revoked when nothing else uses it). Under Strict Mode's double effects it
 * neither leaks nor fetches twice.
 *
 * @example
 * ```tsx
 * function Avatar({ player }) {
 *   const { url, status, ref } = usePixstoreImage(player.imageRecord, { lazy: true })
 *   return status === 'error' ? <span>no picture</span> : <img ref={ref} src={url ?? undefined} alt={player.name} />
 * }
 * ```
 */
export function usePixstoreImage<E extends Element = HTMLImageElement>(
  record: ImageRecord | null | undefined,
  given: UsePixstoreImageOptions = {},
): PixstoreImageState<E> {
  const options = ownProperties(given)
  const ref = useRef<E | null>(null)
  const latest = useRef({ record, options })
  latest.current = { record, options }
  const [state, setState] = useState<Omit<PixstoreImageState<E>, 'ref'>>({ url: null, status: record ? 'loading' : 'idle', error: null })
  const version = record ? `${record.id}\n${record.token}` : null
  const lazy = options.lazy === true

  useEffect(() => {
    const current = latest.current.record
    if (!current || !version) {
      setState({ url: null, status: 'idle', error: null })
      return
    }
    let active = true
    let acquired: ImageURL | null = null
    const loading = new AbortController()
    setState((s) => (s.status === 'loading' && s.url === null ? s : { url: null, status: 'loading', error: null }))
    const load = () => {
      const { refresh, context, frontend = defaultFrontend() } = latest.current.options
      frontend.getImageURL(current, context, { refresh, signal: loading.signal }).then(
        (image) => {
          if (!active) return image.release()
          acquired = image
          setState({ url: image.url, status: 'loaded', error: null })
        },
        (error: unknown) => {
          if (!active) return
          setState({ url: null, status: 'error', error: isPixstoreError(error) ? error : toPixstoreError(error) })
        },
      )
    }
    let cancelLazy: (() => void) | undefined
    if (lazy && ref.current) cancelLazy = whenNearViewport(ref.current, load)
    else load()
    return () => {
      active = false
      cancelLazy?.()
      acquired?.release()
      // Aborted a moment later: an effect that runs again at once (Strict Mode, or the same
      // record re-rendered) joins the same load instead of starting a second request.
      setTimeout(() => loading.abort(), 0)
    }
  }, [version, lazy])

  return { ...state, ref }
}
