export {
  initPixstoreFrontend,
  getImage,
  getImageURL,
  heldImageURLCount,
  deleteCachedImage,
  cachedImageExists,
  getCacheStats,
  clearImageCache,
} from './default-instance.js'
export { createPixstoreFrontend, type PixstoreFrontend } from './instance.js'
export type { ImageURL } from './object-urls.js'
export type { GetImageOptions, RefreshRecord } from './loader.js'
export type { PixstoreFrontendConfig, PixstoreFrontendInitConfig, ResolvedFrontendConfig } from './config.js'
export type { CacheStats } from './cache/image-cache.js'
