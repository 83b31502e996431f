import { isPixstoreError, toPixstoreError } from '../shared/errors.js'
import type { RefreshRecord } from '../frontend/loader.js'
import { whenNearViewport } from '../frontend/near-viewport.js'
import { defaultFrontend } from '../frontend/default-instance.js'
import type { ImageURL } from '../frontend/object-urls.js'
import { placeholderURL, shownSize } from '../frontend/placeholder.js'
import { pixelRatio } from '../frontend/variants.js'
import { variantName } from '../shared/variants.js'
import type { ImageRecord } from '../types/index.js'

// The box is reserved before anything loads (see #reserve), and every state shows in it:
// the placeholder (the record's blurred preview, else a tint), the image fading in over it,
// or the error tint.
const template = `
<style>
  :host { display: inline-block; position: relative; overflow: hidden; vertical-align: top; min-height: 1em; }
  img { position: absolute; inset: 0; display: block; width: 100%; height: 100%; object-fit: var(--pixstore-fit, cover);
    opacity: 0; transition: opacity var(--pixstore-fade, .25s) ease-out; }
  :host([data-state='loaded']) img { opacity: 1; }
  .placeholder { position: absolute; inset: 0; background: #e8ecf2 center / cover no-repeat; }
  :host([data-state='error']) .placeholder { background: #fbeaea; }
</style>
<style class="box"></style>
<span class="placeholder" part="placeholder"></span><img part="img" alt="">`

const pixels = (value: string | null) => (value !== null && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : undefined)

/**
 * `<pixstore-image>`: shows the image of an `ImageRecord`, with a placeholder while it
 * loads and an error state if it fails. Give the record as a property (`el.record = r`)
 * or as a JSON `record` attribute, and optionally `el.refresh = (stale) => freshRecord`.
 * Attributes: `alt`, `width`, `height` (CSS pixels: they size the element itself), and
 * `loading="lazy"` (load when near the viewport).
 * Its box is reserved before it loads, from `width`/`height` or the record's shape (page CSS
 * may size it too), so the page never jumps. The record's placeholder shows at once, and the
 * image fades in over it. With variants, it loads the smallest that covers its rendered
 * width at the device pixel ratio, and a larger one if it grows (never a smaller one).
 * State: `data-state` is `loading`, `loaded` or `error`, with the code in `data-error`;
 * `data-variant` names what is shown (`<width>.<format>`, or `original`).
 * Events: `load` once the image shows; `error` (a `CustomEvent` with `detail.code`).
 * Its object URL is released when it is disconnected or given another record.
 */
export interface PixstoreImageElement extends HTMLElement {
  record: ImageRecord | null
  refresh: RefreshRecord | undefined
}

/** The attributes and properties of `<pixstore-image>` in JSX (React 19, Preact, Solid). */
export interface PixstoreImageJsxProps {
  record?: ImageRecord | string | null
  refresh?: RefreshRecord
  alt?: string
  width?: number | string
  height?: number | string
  loading?: 'lazy' | 'eager'
  class?: string
  className?: string
  id?: string
  style?: unknown
  slot?: string
  key?: string | number
  ref?: unknown
  children?: never
  [dataAttribute: `data-${string}`]: string | undefined
}

declare global {
  interface HTMLElementTagNameMap {
    'pixstore-image': PixstoreImageElement
  }
  // JSX runtimes that read the global namespace (Preact, Solid, React before 19).
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace JSX {
    interface IntrinsicElements {
      'pixstore-image': PixstoreImageJsxProps
    }
  }
}

function createElementClass(): CustomElementConstructor {
  return class extends HTMLElement implements PixstoreImageElement {
    static observedAttributes = ['record', 'alt', 'width', 'height', 'loading']
    #record: ImageRecord | null = null
    #refresh: RefreshRecord | undefined
    #img: HTMLImageElement | undefined
    #image: ImageURL | undefined
    /** URLs replaced by a larger variant, released once it shows (or the element stops). */
    #replaced: ImageURL[] = []
    #loading: AbortController | undefined
    #cancelLazy: (() => void) | undefined
    #resize: ResizeObserver | undefined
    /** The widest box width (CSS px) an image was loaded for, this record. */
    #loadedWidth = 0
    /** A record with variants waiting for the element to have a width (it is hidden). */
    #waiting: ImageRecord | undefined
    #generation = 0

    get record(): ImageRecord | null {
      return this.#record
    }
    set record(record: ImageRecord | null) {
      this.#record = record
      this.#start()
    }
    get refresh(): RefreshRecord | undefined {
      return this.#refresh
    }
    set refresh(refresh: RefreshRecord | undefined) {
      this.#refresh = refresh
    }

    connectedCallback(): void {
      if (!this.shadowRoot) {
        this.attachShadow({ mode: 'open' }).innerHTML = template
        this.#img = this.shadowRoot!.querySelector('img')!
        this.#copy('alt')
      }
      if (typeof ResizeObserver !== 'undefined') {
        this.#resize ??= new ResizeObserver(() => this.#grown())
        this.#resize.observe(this)
      }
      this.#start()
    }

    disconnectedCallback(): void {
      this.#resize?.disconnect()
      this.#stop()
    }

    attributeChangedCallback(name: string, _old: string | null, value: string | null): void {
      if (name === 'record') {
        try {
          this.record = value ? (JSON.parse(value) as ImageRecord) : null
        } catch {
          this.#fail('INVALID_RECORD')
        }
      } else if (name === 'loading') this.#start()
      else if (name === 'alt') this.#copy(name)
      else this.#reserve()
    }

    // Sizes the element before its image arrives: the width and height attributes, else the
    // record's shape; as :host rules, so that the page's own CSS still wins.
    #reserve(): void {
      const box = this.shadowRoot?.querySelector('style.box')
      if (!box) return
      const width = pixels(this.getAttribute('width'))
      const height = pixels(this.getAttribute('height'))
      const size = shownSize(this.#record)
      const rules: string[] = []
      if (size) rules.push(`aspect-ratio: ${size.width} / ${size.height}`)
      if (width !== undefined) rules.push(`width: ${width}px`)
      if (height !== undefined) rules.push(`height: ${height}px`)
      // Neither given: the image's own size, as an <img> without attributes, within its container.
      if (width === undefined && height === undefined && size) rules.push(`width: ${size.width}px`, 'max-width: 100%')
      const preview = this.dataset.state === 'error' ? undefined : placeholderURL(this.#record)
      box.textContent =
        `:host { ${rules.join('; ')} }` +
        (preview ? ` .placeholder { background-image: url("${preview}") }` : '') +
        // Nothing tells the size (a record without one, no attributes): the image sizes the element once it loads.
        (width === undefined && height === undefined && !size ? ' img { position: static; width: auto; height: auto; max-width: 100% }' : '')
    }

    // The box grew past what the image was loaded for: load the variant that covers it.
    #grown(): void {
      const waiting = this.#waiting
      if (waiting && this.getBoundingClientRect().width > 0) {
        this.#waiting = undefined
        return void this.#load(waiting)
      }
      const record = this.#record
      if (!record?.variants?.length || this.#loadedWidth === 0 || this.dataset.state === 'error') return
      const width = this.getBoundingClientRect().width
      if (width <= this.#loadedWidth) return
      // What is shown covers the larger box already (the original always does): nothing to load.
      const shown = this.#image?.variant
      if (this.#image && (shown === null || (shown && shown.width >= Math.ceil(width * pixelRatio())))) return
      void this.#load(record, true)
    }

    // Releases every URL a larger variant replaced.
    #releaseReplaced(): void {
      for (const image of this.#replaced.splice(0)) image.release()
    }

    #copy(name: string): void {
      const value = this.getAttribute(name)
      if (!this.#img) return
      if (value === null) this.#img.removeAttribute(name)
      else this.#img.setAttribute(name, value)
    }

    // Stops whatever the element was loading or showing, and frees its object URL.
    #stop(): void {
      this.#generation++
      this.#loadedWidth = 0
      this.#waiting = undefined
      this.#cancelLazy?.()
      this.#cancelLazy = undefined
      this.#loading?.abort()
      this.#loading = undefined
      this.#image?.release()
      this.#image = undefined
      this.#releaseReplaced()
      if (this.#img) this.#img.removeAttribute('src')
    }

    #start(): void {
      if (!this.isConnected || !this.shadowRoot) return
      this.#stop()
      const record = this.#record
      this.removeAttribute('data-error')
      this.removeAttribute('data-variant')
      if (!record) this.removeAttribute('data-state')
      else this.dataset.state = 'loading'
      this.#reserve()
      if (!record) return
      if (this.getAttribute('loading') === 'lazy') this.#cancelLazy = whenNearViewport(this, () => void this.#load(record))
      else void this.#load(record)
    }

    /** Loads the image for the element's rendered width; `upgrade` swaps a larger one in for the one shown. */
    async #load(record: ImageRecord, upgrade = false): Promise<void> {
      if (upgrade) {
        this.#generation++
        this.#loading?.abort()
      }
      const generation = this.#generation
      const loading = (this.#loading = new AbortController())
      const box = record.variants?.length ? this.getBoundingClientRect().width : 0
      // Hidden (no width yet): nothing tells which variant it needs, so it waits to be shown.
      if (record.variants?.length && box === 0 && this.#resize && !upgrade) {
        this.#waiting = record
        return
      }
      if (box > 0) this.#loadedWidth = Math.max(this.#loadedWidth, box)
      let image: ImageURL
      try {
        image = await defaultFrontend().getImageURL(record, undefined, {
          refresh: this.#refresh,
          signal: loading.signal,
          ...(box > 0 ? { width: box } : {}),
        })
      } catch (error) {
        // A failed upgrade keeps what is shown; with nothing shown yet, it is the element's error.
        if (generation === this.#generation && (!upgrade || !this.#image)) this.#fail(isPixstoreError(error) ? error.code : toPixstoreError(error).code)
        return
      }
      // Replaced or disconnected meanwhile: this URL is not needed any more.
      if (generation !== this.#generation) return image.release()
      if (this.#image) this.#replaced.push(this.#image)
      this.#image = image
      const img = this.#img!
      img.onload = () => {
        if (generation !== this.#generation) return
        this.#releaseReplaced()
        const first = this.dataset.state !== 'loaded'
        this.dataset.variant = image.variant ? variantName(image.variant) : 'original'
        this.dataset.state = 'loaded'
        if (first) this.dispatchEvent(new Event('load'))
      }
      img.onerror = () => {
        if (generation !== this.#generation) return
        this.#releaseReplaced()
        this.#fail('INVALID_IMAGE')
      }
      img.src = image.url
    }

    #fail(code: string): void {
      this.dataset.state = 'error'
      this.dataset.error = code
      this.#reserve()
      this.dispatchEvent(new CustomEvent('error', { detail: { code } }))
    }
  }
}

/**
 * Registers the element under `tagName` (default `pixstore-image`). Importing
 * `pixstore/element` in a browser already does this; call it for another name. Does
 * nothing where there is no `customElements` (server-side rendering) or if the name is taken.
 */
export function definePixstoreImage(tagName = 'pixstore-image'): void {
  if (typeof customElements === 'undefined' || customElements.get(tagName)) return
  customElements.define(tagName, createElementClass())
}

definePixstoreImage()
