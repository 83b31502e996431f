import { isPixstoreError, toPixstoreError } from '../shared/errors.js'
import type { RefreshRecord } from '../frontend/loader.js'
import { whenNearViewport } from '../frontend/near-viewport.js'
import { defaultFrontend } from '../frontend/default-instance.js'
import type { ImageURL } from '../frontend/object-urls.js'
import type { ImageRecord } from '../types/index.js'

const template = `
<style>
  :host { display: inline-block; position: relative; overflow: hidden; }
  img { display: block; width: 100%; height: 100%; object-fit: inherit; }
  :host(:not([data-state='loaded'])) img { display: none; }
  .placeholder { display: block; width: 100%; height: 100%; min-height: 1em; background: #e8ecf2; }
  :host([data-state='loaded']) .placeholder { display: none; }
  :host([data-state='error']) .placeholder { background: #fbeaea; }
</style>
<img part="img" alt=""><span class="placeholder" part="placeholder"></span>`

/**
 * `<pixstore-image>`: shows the image of an `ImageRecord`, with a placeholder while it
 * loads and an error state if it fails. Give the record as a property (`el.record = r`)
 * or as a JSON `record` attribute, and optionally `el.refresh = (stale) => freshRecord`.
 * Attributes: `alt`, `width`, `height`, and `loading="lazy"` (load when near the viewport).
 * State: `data-state` is `loading`, `loaded` or `error`, with the code in `data-error`.
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
    #loading: AbortController | undefined
    #cancelLazy: (() => void) | undefined
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
        for (const name of ['alt', 'width', 'height']) this.#copy(name)
      }
      this.#start()
    }

    disconnectedCallback(): void {
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
      else this.#copy(name)
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
      this.#cancelLazy?.()
      this.#cancelLazy = undefined
      this.#loading?.abort()
      this.#loading = undefined
      this.#image?.release()
      this.#image = undefined
      if (this.#img) this.#img.removeAttribute('src')
    }

    #start(): void {
      if (!this.isConnected || !this.shadowRoot) return
      this.#stop()
      const record = this.#record
      if (!record) return void this.removeAttribute('data-state')
      this.dataset.state = 'loading'
      this.removeAttribute('data-error')
      if (this.getAttribute('loading') === 'lazy') this.#cancelLazy = whenNearViewport(this, () => void this.#load(record))
      else void this.#load(record)
    }

    async #load(record: ImageRecord): Promise<void> {
      const generation = this.#generation
      const loading = (this.#loading = new AbortController())
      let image: ImageURL
      try {
        image = await defaultFrontend().getImageURL(record, undefined, { refresh: this.#refresh, signal: loading.signal })
      } catch (error) {
        if (generation === this.#generation) this.#fail(isPixstoreError(error) ? error.code : toPixstoreError(error).code)
        return
      }
      // Replaced or disconnected meanwhile: this URL is not needed any more.
      if (generation !== this.#generation) return image.release()
      this.#image = image
      const img = this.#img!
      img.onload = () => {
        if (generation !== this.#generation) return
        this.dataset.state = 'loaded'
        this.dispatchEvent(new Event('load'))
      }
      img.onerror = () => generation === this.#generation && this.#fail('INVALID_IMAGE')
      img.src = image.url
    }

    #fail(code: string): void {
      this.dataset.state = 'error'
      this.dataset.error = code
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
