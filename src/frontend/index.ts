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
export type { ImageFetcher } from './fetcher.js'
export type { CacheStats } from './cache/image-cache.js'
export type { ImageRecord, ImageMeta, ImageFormat } from '../types/index.js'
export { PixstoreError, isPixstoreError } from '../shared/errors.js'
export type { PixstoreErrorCode } from '../shared/errors.js'
export type { ErrorHandlingMode, ErrorReportingOptions } from '../shared/error-handling.js'
