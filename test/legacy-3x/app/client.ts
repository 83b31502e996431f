// The browser side of the pixstore 3.x app: its 3.x frontend options and a typed custom
// fetcher (the ImageFetcher type from pixstore/types) calling the app's own endpoint.
// Nothing in it was changed for Pixstore.
import { getImage, initPixstoreFrontend } from 'pixstore/frontend'
import type { ImageFetcher, ImageRecord } from 'pixstore/types'

const fetchFromApp: ImageFetcher = async (imageRecord: ImageRecord) => {
  const response = await fetch('/api/pixstore-image', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: imageRecord.id, token: imageRecord.token, statelessProof: imageRecord.statelessProof }),
  })
  return new Uint8Array(await response.arrayBuffer())
}

initPixstoreFrontend(
  {
    imageFormats: ['png', 'webp', 'jpg', 'jpeg'],
    frontendDbName: 'my-app-images',
    frontendDbVersion: 1,
    imageStoreName: 'images',
    frontendImageCacheLimit: 200,
    frontendCleanupBatch: 20,
    defaultEndpointConnectHost: 'localhost',
    defaultEndpointConnectPort: 3001,
    defaultEndpointRoute: '/pixstore-image',
    errorHandlingMode: 'warn',
  },
  fetchFromApp,
)

interface Shown {
  id: string
  type: string
  sha256: string
  width: number
}

async function show(): Promise<Shown[]> {
  const images: { id: string; imageRecord: ImageRecord }[] = await (await fetch('/api/images')).json()
  const gallery = document.getElementById('gallery')!
  return Promise.all(
    images.map(async ({ id, imageRecord }) => {
      const blob = await getImage(imageRecord)
      if (!blob) return { id, type: 'none', sha256: '', width: 0 }
      const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())
      const img = document.createElement('img')
      img.src = URL.createObjectURL(blob)
      gallery.append(img)
      await img.decode()
      const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
      return { id, type: blob.type, sha256, width: img.naturalWidth }
    }),
  )
}

;(window as unknown as { shown: Promise<Shown[]> }).shown = show()
