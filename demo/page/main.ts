import { definePixstoreImage } from 'pixstore/element'
import {
  cachedImageExists,
  clearImageCache,
  deleteCachedImage,
  getCacheStats,
  getImage,
  getImageURL,
  initPixstoreFrontend,
  type ImageURL,
} from 'pixstore/frontend'
import type { PixstoreError } from 'pixstore/shared'
import type { ImageRecord } from 'pixstore/types'

interface Player {
  id: string
  name: string
  imageRecord: ImageRecord | null
}

definePixstoreImage()
// `?cacheLimit=N` shows eviction with a small cache.
const cacheLimit = new URLSearchParams(location.search).get('cacheLimit')
// The module functions return null for an image they could not load; onError tells why.
let lastError: PixstoreError | null = null
initPixstoreFrontend({
  ...(cacheLimit ? { frontendImageCacheLimit: Number(cacheLimit) } : {}),
  onError: (error) => {
    lastError = error
  },
})
performance.setResourceTimingBufferSize(100_000)

const grid = document.querySelector<HTMLElement>('#grid')!
const template = document.querySelector<HTMLTemplateElement>('#card')!
const message = document.querySelector<HTMLElement>('#message')!
const cards = new Map<string, { card: HTMLElement }>()
let networkBytes = 0

const formatBytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(2)} MB`)
const say = (text: string) => (message.textContent = text)

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, init)
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { message?: string }
    throw new Error(body.message ?? `HTTP ${response.status}`)
  }
  return (response.status === 204 ? undefined : await response.json()) as T
}

async function refreshStats(): Promise<void> {
  const stats = await getCacheStats()
  document.querySelector('#cache-entries')!.textContent = String(stats?.entries ?? '–')
  document.querySelector('#cache-bytes')!.textContent = stats ? formatBytes(stats.bytes) : '–'
  document.querySelector('#network-bytes')!.textContent = formatBytes(networkBytes)
}

const field = (card: HTMLElement, name: string) => card.querySelector<HTMLElement>(`.${name}`)!

function cardFor(player: Player): HTMLElement {
  const existing = cards.get(player.id)
  if (existing) return existing.card
  const card = template.content.firstElementChild!.cloneNode(true) as HTMLElement
  card.dataset.id = player.id
  field(card, 'name').textContent = player.name
  card.querySelector('pixstore-image')!.setAttribute('alt', player.name)
  card.querySelector<HTMLInputElement>('.replace')!.addEventListener('change', (event) => {
    const input = event.target as HTMLInputElement
    if (input.files?.[0]) void replace(player.id, input.files[0]).finally(() => (input.value = ''))
  })
  field(card, 'expired').addEventListener('click', () => void loadExpired(player.id))
  field(card, 'frame').addEventListener('click', () => void openFull(card))
  field(card, 'delete').addEventListener('click', () => void remove(player.id))
  grid.append(card)
  cards.set(player.id, { card })
  return card
}

type ImageElement = HTMLElement & { record: ImageRecord | null }

const full = document.querySelector<HTMLDialogElement>('#full')!
let fullImage: ImageURL | null = null
full.addEventListener('close', () => {
  fullImage?.release()
  fullImage = null
  full.querySelector('img')!.removeAttribute('src')
})

/** Opens the card's image at full size: the original, whatever variant the card shows. */
async function openFull(card: HTMLElement): Promise<void> {
  const record = card.querySelector<ImageElement>('pixstore-image')!.record
  if (!record) return
  const image = await getImageURL(record)
  if (!image) {
    say(`Could not open the original (${lastError?.code ?? 'UNKNOWN'})`)
    return
  }
  fullImage?.release()
  fullImage = image
  const img = full.querySelector('img')!
  img.src = image.url
  await img.decode().catch(() => undefined)
  full.querySelector('figcaption')!.textContent = `Original: ${img.naturalWidth} × ${img.naturalHeight} px, ${record.format ?? ''} ${formatBytes(record.bytes ?? 0)}`
  card.dataset.fullSha256 = await hashOf(await (await fetch(img.src)).blob())
  if (!full.open) full.showModal()
}

async function hashOf(blob: Blob): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** What the card's element shows: "320 px AVIF", or "original". */
function describeVariant(element: HTMLElement, record: ImageRecord): string {
  const name = element.dataset.variant ?? 'original'
  if (name === 'original') return `original, ${record.width ?? '?'} px`
  const variant = record.variants?.find((v) => `${v.width}.${v.format}` === name)
  return variant ? `${variant.width} px ${variant.format.toUpperCase()}, ${formatBytes(variant.bytes)}` : name
}

/** Hands a record to the card's <pixstore-image> and shows where the image came from. */
async function show(player: Player, record: ImageRecord | null = player.imageRecord): Promise<void> {
  const card = cardFor(player)
  card.dataset.state = 'loading'
  if (!record) return fail(card, 'NOT_FOUND')
  const started = performance.now()
  const element = card.querySelector<ImageElement>('pixstore-image')!
  const settled = new Promise<void>((resolve) => {
    const done = () => {
      element.removeEventListener('load', done)
      element.removeEventListener('error', done)
      resolve()
    }
    element.addEventListener('load', done)
    element.addEventListener('error', done)
  })
  // The element shares and revokes object URLs itself, as images are replaced or removed.
  element.record = record
  await settled
  if (element.dataset.state !== 'loaded') return fail(card, element.dataset.error ?? 'UNKNOWN')
  const imagePath = `/pixstore-image/${encodeURIComponent(record.id)}`
  const transfers = performance
    .getEntriesByType('resource')
    .filter((e) => e.startTime >= started && new URL(e.name).pathname === imagePath) as PerformanceResourceTiming[]
  const bytes = transfers.reduce((sum, e) => sum + e.encodedBodySize, 0)
  networkBytes += bytes
  // The page shows the image's hash so that anyone (and the browser tests) can check it.
  const img = element.shadowRoot!.querySelector('img')!
  card.dataset.sha256 = await hashOf(await (await fetch(img.src)).blob())
  card.dataset.variant = element.dataset.variant ?? 'original'
  field(card, 'variant').textContent = describeVariant(element, record)
  const source = transfers.length > 0 ? 'network' : 'cache'
  Object.assign(field(card, 'source'), { textContent: source }).dataset.source = source
  field(card, 'bytes').textContent = transfers.length > 0 ? formatBytes(bytes) : '0 B'
  field(card, 'token').textContent = String(record.token)
  card.dataset.token = String(record.token)
  card.dataset.state = 'loaded'
  void refreshStats()
}

function fail(card: HTMLElement, code: string): void {
  card.dataset.state = 'error'
  card.dataset.error = code
  field(card, 'error').textContent = code === 'INVALID_PROOF' ? 'Refused: the proof has expired (INVALID_PROOF)' : `Could not load (${code})`
  void refreshStats()
}

async function loadAll(): Promise<void> {
  const { players } = await api<{ players: Player[] }>('/api/players')
  for (const id of [...cards.keys()]) if (!players.some((p) => p.id === id)) dropCard(id)
  await Promise.all(players.map((player) => show(player)))
  document.body.dataset.ready = 'true'
}

function dropCard(id: string): void {
  const entry = cards.get(id)
  if (!entry) return
  // Removing the element releases its object URL.
  entry.card.remove()
  cards.delete(id)
}

async function replace(id: string, file: File): Promise<void> {
  const body = new FormData()
  body.append('image', file)
  try {
    const player = await api<Player>(`/api/players/${encodeURIComponent(id)}/image`, { method: 'PUT', body })
    await show(player)
    say(`Replaced the picture of ${player.name}`)
  } catch (error) {
    say(`Replace failed: ${(error as Error).message}`)
  }
}

async function loadExpired(id: string): Promise<void> {
  const { imageRecord } = await api<{ imageRecord: ImageRecord }>(`/api/players/${encodeURIComponent(id)}/expired-record`)
  // Only the network path checks proofs, so drop the cached copy first.
  await deleteCachedImage(id)
  const player = { id, name: field(cards.get(id)!.card, 'name').textContent ?? id, imageRecord }
  await show(player)
  say('Loaded with a proof minted three windows ago: the image route refused it.')
}

async function remove(id: string): Promise<void> {
  await api(`/api/players/${encodeURIComponent(id)}`, { method: 'DELETE' })
  dropCard(id)
  say('Deleted')
}

document.querySelector('#reload-all')!.addEventListener('click', () => void loadAll())
document.querySelector('#clear-cache')!.addEventListener('click', async () => {
  await clearImageCache()
  await refreshStats()
  say('Cache cleared: the next load fetches every image again.')
})
document.querySelector<HTMLFormElement>('#add-player')!.addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = event.target as HTMLFormElement
  try {
    const player = await api<Player>('/api/players', { method: 'POST', body: new FormData(form) })
    await show(player)
    form.reset()
    say(`Added ${player.name}`)
  } catch (error) {
    say(`Upload failed: ${(error as Error).message}`)
  }
})

// A handle for the browser tests and for poking around in the console.
Object.assign(window, {
  pixstoreDemo: { getImage, lastError: () => lastError, getCacheStats, cachedImageExists, deleteCachedImage, clearImageCache, loadAll, show },
})

void loadAll()
