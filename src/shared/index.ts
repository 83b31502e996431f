export { PixstoreError, isPixstoreError } from './errors.js'
export type { PixstoreErrorCode } from './errors.js'
export type { ErrorHandlingMode, ErrorReportingOptions } from './error-handling.js'
export { getLastPixstoreError, setCustomErrorHandler } from './error-handling.js'
export {
  PayloadState,
  encodePayload,
  encodeUpdatedHeader,
  decodePayload,
  KEY_LENGTH,
  IV_LENGTH,
  TAG_LENGTH,
  UPDATED_HEADER_LENGTH,
} from './wire.js'
export type { Payload } from './wire.js'
