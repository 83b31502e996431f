import { useEffect, useRef, useState, type RefObject } from 'react'
import { isPixstoreError, toPixstoreError, type PixstoreError } from '../shared/errors.js'
import { ownProperties } from '../shared/options.js'
import type { RefreshRecord } from '../frontend/loader.js'
import { whenNearViewport } from '../frontend/near-viewport.js'
import { defaultFrontend } from '../frontend/default-instance.js'
import type { PixstoreFrontend } from '../frontend/instance.js'
import type { ImageURL } from '../frontend/object-urls.js'
import { placeholderURL, shownSize } from '../frontend/placeholder.js'
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
  /**
   * The width in CSS pixels the image is shown at: loads the record's smallest variant that
   * covers it at the device pixel ratio (see `getImage`). A larger width later loads a larger
   * variant; a smaller one keeps what is loaded. Default: the original.
   */
  width?: number
}

/** What {@link usePixstoreImage} gives: the object URL once loaded, the status, and the error if any. */
export interface PixstoreImageState<E extends Element = HTMLImageElement> {
  url: string | null
  /**
   * The record's placeholder as a `data:` URL (a blurred preview decoded from its ThumbHash,
   * no request), from the first render on; `null` when the record has none. Show it until
   * `url` is there.
   */
  placeholder: string | null
  /** The image's width / height as shown, from the record, for reserving its box; `null` when unknown. */
  aspectRatio: number | null
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
 * @example
 * ```tsx
 * // A 200-pixel card: its variant, over the placeholder, in a box reserved from the start.
 * function Card({ record }) {
 *   const { url, placeholder, aspectRatio } = usePixstoreImage(record, { width: 200 })
 *   return (
 *     <div style={{ width: 200, aspectRatio: aspectRatio ?? 1, background: placeholder ? `center / cover url("${placeholder}")` : '#eee' }}>
 *       <img src={url ?? undefined} alt="" style={{ width: '100%', height: '100%', objectFit: 'cover', opacity: url ? 1 : 0, transition: 'opacity .25s' }} />
 *     </div>
 *   )
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
  const [state, setState] = useState<Omit<PixstoreImageState<E>, 'ref' | 'placeholder' | 'aspectRatio'>>({
    url: null,
    status: record ? 'loading' : 'idle',
    error: null,
  })
  const version = record ? `${record.id}\n${record.token}` : null
  const lazy = options.lazy === true
  // Grows only: a smaller box keeps the larger image already loaded for this version.
  const widest = useRef<{ version: string | null; width: number | undefined }>({ version: null, width: undefined })
  const asked = typeof options.width === 'number' && options.width > 0 ? options.width : undefined
  if (widest.current.version !== version) widest.current = { version, width: asked }
  else if (asked !== undefined && (widest.current.width === undefined || asked > widest.current.width)) widest.current.width = asked
  const width = widest.current.width

  // The URL shown, held until the one replacing it is there (a larger variant of the same
  // version), or until the version changes or the component unmounts.
  const held = useRef<{ version: string; image: ImageURL } | null>(null)
  const drop = () => {
    held.current?.image.release()
    held.current = null
  }
  useEffect(() => drop, [])

  useEffect(() => {
    const current = latest.current.record
    if (!current || !version) {
      drop()
      setState({ url: null, status: 'idle', error: null })
      return
    }
    let active = true
    const loading = new AbortController()
    if (held.current?.version !== version) {
      drop()
      setState((s) => (s.status === 'loading' && s.url === null ? s : { url: null, status: 'loading', error: null }))
    }
    const load = () => {
      const { refresh, context, frontend = defaultFrontend() } = latest.current.options
      frontend.getImageURL(current, context, { refresh, signal: loading.signal, ...(width === undefined ? {} : { width }) }).then(
        (image) => {
          if (!active) return image.release()
          const previous = held.current
          held.current = { version, image }
          setState({ url: image.url, status: 'loaded', error: null })
          previous?.image.release()
        },
        (error: unknown) => {
          if (!active || held.current?.version === version) return
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
      // Aborted a moment later: an effect that runs again at once (Strict Mode, or the same
      // record re-rendered) joins the same load instead of starting a second request.
      setTimeout(() => loading.abort(), 0)
    }
  }, [version, lazy, width])

  const size = shownSize(record)
  return { ...state, placeholder: placeholderURL(record) ?? null, aspectRatio: size ? size.width / size.height : null, ref }
}
