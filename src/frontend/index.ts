export {
  initPixstoreFrontend,
  getImage,
  deleteCachedImage,
  cachedImageExists,
  getCacheStats,
  clearImageCache,
} from './get-image.js'
export { getImageURL, releaseImageURL, heldImageURLCount } from './object-urls.js'
export type { GetImageURLOptions } from './object-urls.js'
export type { GetImageOptions, RefreshRecord } from './get-image.js'
export type { PixstoreFrontendConfig } from './config.js'
export type { ImageFetcher } from './fetcher.js'
export type { CacheStats } from './cache/image-cache.js'
export type { ImageRecord, ImageMeta, ImageFormat } from '../types/index.js'
export { PixstoreError, isPixstoreError } from '../shared/errors.js'
export type { PixstoreErrorCode } from '../shared/errors.js'
export { getLastPixstoreError, setCustomErrorHandler } from '../shared/error-handling.js'
