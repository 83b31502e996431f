// The page of the UI tests: <pixstore-image> elements and the React hook, driven from the test.
import { StrictMode } from 'react'
import { createRoot, type Root } from 'react-dom/client'
import { definePixstoreImage } from 'pixstore/element'
import { heldImageURLCount } from 'pixstore/frontend'
import { usePixstoreImage } from 'pixstore/react'
import type { ImageRecord } from 'pixstore/types'

interface Item {
  record: ImageRecord
  lazy?: boolean
  refresh?: boolean
}

definePixstoreImage()

const refresh = async (stale: ImageRecord): Promise<ImageRecord> => (await fetch(`/api/record/${encodeURIComponent(stale.id)}`)).json()
const events: string[] = []
const place = (lazy: boolean | undefined) => document.querySelector(lazy ? '#below' : '#above')!

function Avatar({ item }: { item: Item }) {
  const { url, status, error, ref } = usePixstoreImage(item.record, { lazy: item.lazy, refresh: item.refresh ? refresh : undefined })
  return (
    <figure data-id={item.record.id} data-status={status} data-error={error?.code ?? ''}>
      <img ref={ref} src={url ?? undefined} width={40} height={40} alt="" />
    </figure>
  )
}

// The hook called with no options at all, as most apps call it.
function PlainAvatar({ record }: { record: ImageRecord }) {
  const { url, status, error, ref } = usePixstoreImage(record)
  return (
    <figure data-id={record.id} data-status={status} data-error={error?.code ?? ''}>
      <img ref={ref} src={url ?? undefined} width={40} height={40} alt="" />
    </figure>
  )
}

let root: Root | undefined
Object.assign(window, {
  ui: {
    mountElements(items: Item[]) {
      for (const item of items) {
        const el = document.createElement('pixstore-image') as HTMLElement & { record: ImageRecord; refresh?: typeof refresh }
        el.dataset.id = item.record.id
        el.setAttribute('alt', item.record.id)
        if (item.lazy) el.setAttribute('loading', 'lazy')
        if (item.refresh) el.refresh = refresh
        el.addEventListener('load', () => events.push(`load ${item.record.id}`))
        el.addEventListener('error', (e) => events.push(`error ${item.record.id} ${(e as unknown as CustomEvent<{ code: string }>).detail.code}`))
        el.record = item.record
        place(item.lazy).append(el)
      }
    },
    removeElements: () => document.querySelectorAll('pixstore-image').forEach((el) => el.remove()),
    mountReact(items: Item[]) {
      const host = document.createElement('div')
      document.querySelector('#above')!.append(host)
      const below = document.createElement('div')
      place(true).append(below)
      root = createRoot(host)
      root.render(
        <StrictMode>
          {items.filter((i) => !i.lazy).map((item) => <Avatar key={item.record.id} item={item} />)}
        </StrictMode>,
      )
      const lazyRoot = createRoot(below)
      lazyRoot.render(<StrictMode>{items.filter((i) => i.lazy).map((item) => <Avatar key={item.record.id} item={item} />)}</StrictMode>)
      ;(window as unknown as { lazyRoot: Root }).lazyRoot = lazyRoot
    },
    mountPlainReactBelow(records: ImageRecord[]) {
      const host = document.createElement('div')
      place(true).append(host)
      createRoot(host).render(
        <StrictMode>
          {records.map((record) => (
            <PlainAvatar key={record.id} record={record} />
          ))}
        </StrictMode>,
      )
    },
    unmountReact() {
      root?.unmount()
      ;(window as unknown as { lazyRoot?: Root }).lazyRoot?.unmount()
    },
    events: () => events,
    held: () => heldImageURLCount(),
  },
})
