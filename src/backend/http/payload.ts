import { PixstoreError } from '../../shared/errors.js'
import { PayloadState, UPDATED_HEADER_LENGTH, encodeUpdatedHeader } from '../../shared/wire.js'
import type { BodyPart } from '../body-parts.js'
import { joinParts } from '../body-parts.js'
import type { FramedServedImage, ServedImage } from '../serving.js'

/** A payload ready to send: its parts in order (bytes, or streams of bytes) and its total length. */
export interface PayloadParts {
  parts: BodyPart[]
  length: number
}

/** Parses a client token from a header, query string or argument; anything malformed counts as no token. */
export function parseClientToken(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) return undefined
  const token = Number(value)
  return Number.isSafeInteger(token) ? token : undefined
}

const single = (state: number): PayloadParts => ({ parts: [Uint8Array.of(state)], length: 1 })

/** The length of the payload that answers `served` (0 for `located`, which is answered by a redirect). */
export function payloadLength(served: ServedImage): number {
  switch (served.state) {
    case 'current':
    case 'variant':
      return 1 + served.size
    case 'updated':
      return UPDATED_HEADER_LENGTH + served.size
    case 'located':
    case 'file':
      return 0
    default:
      return 1
  }
}

/** Encodes what the route found in the wire format: a one-byte state, or a header and the ciphertext. */
export function encodeServed(served: ServedImage): PayloadParts {
  switch (served.state) {
    case 'missing-id':
      return single(PayloadState.MissingID)
    case 'missing-proof':
      return single(PayloadState.MissingProof)
    case 'invalid-proof':
      return single(PayloadState.InvalidProof)
    case 'not-found':
      return single(PayloadState.NotFound)
    case 'failed':
      return single(PayloadState.InternalError)
    case 'current':
      return { parts: [Uint8Array.of(PayloadState.Success), served.body], length: payloadLength(served) }
    case 'variant':
      return { parts: [Uint8Array.of(PayloadState.Variant), served.body], length: payloadLength(served) }
    case 'located':
    case 'file':
      // Not a payload: the route answers with a redirect, or a header naming the file.
      throw new PixstoreError('INTERNAL', `A ${served.state} image is answered without a payload`)
    case 'updated': {
      const { image } = served
      const header = encodeUpdatedHeader(image.token, served.dataKey, Buffer.from(image.iv, 'base64'), Buffer.from(image.tag, 'base64'))
      return { parts: [header, served.body], length: payloadLength(served) }
    }
  }
}

/**
 * The header length of the payload that answers a client holding `clientToken` for `image`
 * (a request for a variant that reads the original is answered `Updated`).
 */
export const headerLengthFor = (clientToken: number | undefined, variant?: string) => (image: { token: number }) =>
  clientToken === image.token && variant === undefined ? 1 : UPDATED_HEADER_LENGTH

/**
 * The whole payload in one buffer: the header written into the room the image was read
 * after (no copy of the image), else the parts joined.
 */
export async function encodeServedWhole(served: FramedServedImage): Promise<Uint8Array> {
  const payload = encodeServedParts(served)
  return payload.parts.length === 1 && payload.parts[0] instanceof Uint8Array ? payload.parts[0] : joinParts(payload.parts)
}

/** {@link encodeServed}, as one part when the image was read after room for the header. */
export function encodeServedParts(served: FramedServedImage): PayloadParts {
  const payload = encodeServed(served)
  const [header] = payload.parts
  if (served.frame && served.frame.byteLength === payload.length && header instanceof Uint8Array && payload.parts.length === 2) {
    served.frame.set(header, 0)
    return { parts: [served.frame], length: payload.length }
  }
  return payload
}
