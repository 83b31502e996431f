// The page of the responsive-image tests: <pixstore-image> elements and the hook with a width.
import { useState } from 'react'
import { createRoot } from 'react-dom/client'
import { definePixstoreImage } from 'pixstore/element'
import { usePixstoreImage } from 'pixstore/react'
import type { ImageRecord } from 'pixstore/types'

definePixstoreImage()

// Layout shifts, from the start of the page.
const shifts: number[] = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) {
    if (!entry.hadRecentInput) shifts.push(entry.value)
  }
}).observe({ type: 'layout-shift', buffered: true })

function Card({ record, width }: { record: ImageRecord; width: number }) {
  const { url, placeholder, aspectRatio, status } = usePixstoreImage(record, { width })
  return (
    <figure data-status={status} data-placeholder={placeholder ?? ''} data-aspect={aspectRatio ?? ''} style={{ width, margin: 0 }}>
      <img src={url ?? undefined} alt="" style={{ width: '100%' }} />
    </figure>
  )
}

let setWidth: (width: number) => void = () => undefined
function Resizable({ record, initial }: { record: ImageRecord; initial: number }) {
  const [width, set] = useState(initial)
  setWidth = set
  return <Card record={record} width={width} />
}

Object.assign(window, {
  page: {
    /** Adds an element before the trailing text, with the given attributes and style. */
    mount(record: ImageRecord, attributes: Record<string, string>, style = ''): void {
      const el = document.createElement('pixstore-image') as HTMLElement & { record: ImageRecord }
      for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value)
      el.setAttribute('style', style)
      el.dataset.id = attributes['data-id'] ?? record.id
      el.record = record
      document.querySelector('#images')!.append(el)
    },
    mountHook(record: ImageRecord, width: number): void {
      createRoot(document.querySelector('#hook')!).render(<Resizable record={record} initial={width} />)
    },
    setHookWidth: (width: number) => setWidth(width),
    shifts: () => shifts.reduce((a, b) => a + b, 0),
  },
})
