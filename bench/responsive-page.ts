// The page of the responsive-images bench: a grid of <pixstore-image> elements at 200 CSS px.
import 'pixstore/element'
import { initPixstoreFrontend } from 'pixstore/frontend'
import type { ImageRecord } from 'pixstore/types'

/** What the bench calls in the page. */
export interface ResponsiveBench {
  /** Shows the records in a fresh grid and resolves, once every image has loaded, with the time it took and the bytes fetched. */
  grid(records: ImageRecord[], database: string): Promise<{ ms: number; bytes: number; variants: string[] }>
}

const bench: ResponsiveBench = {
  async grid(records, database) {
    initPixstoreFrontend({ indexedDbName: database })
    performance.clearResourceTimings()
    const grid = document.createElement('div')
    grid.style.cssText = 'display: grid; grid-template-columns: repeat(auto-fill, 200px); gap: 4px'
    document.body.replaceChildren(grid)
    const started = performance.now()
    const loaded = records.map((record) => {
      const el = document.createElement('pixstore-image') as HTMLElement & { record: ImageRecord }
      el.style.cssText = 'width: 200px; height: 150px'
      grid.append(el)
      const done = new Promise<void>((resolve, reject) => {
        el.addEventListener('load', () => resolve(), { once: true })
        el.addEventListener('error', (event) => reject(new Error(`image ${record.id}: ${(event as unknown as CustomEvent<{ code: string }>).detail.code}`)), { once: true })
      })
      el.record = record
      return done
    })
    await Promise.all(loaded)
    const ms = performance.now() - started
    const entries = performance.getEntriesByType('resource') as PerformanceResourceTiming[]
    const bytes = entries.filter((e) => new URL(e.name).pathname.startsWith('/pixstore-image/')).reduce((sum, e) => sum + e.encodedBodySize, 0)
    return { ms, bytes, variants: [...grid.children].map((el) => (el as HTMLElement).dataset.variant ?? '') }
  },
}
Object.assign(window, { responsiveBench: bench })
