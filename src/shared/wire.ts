import { PixstoreError } from './errors.js'

/** The state byte that starts every payload of the image route. */
export const PayloadState = {
  Success: 0,
  Updated: 1,
  NotFound: 2,
  MissingID: 3,
  MissingProof: 4,
  InvalidProof: 5,
  InternalError: 6,
  /**
   * The client's token is current and it asked for one of the version's variants: the
   * payload is that variant's ciphertext with its GCM tag appended (Pixstore 4 and later;
   * sent only to a client that asks for a variant).
   */
  Variant: 7,
} as const

/** A payload state byte value. */
export type PayloadState = (typeof PayloadState)[keyof typeof PayloadState]

/** Lengths in bytes of the fields of an `Updated` payload. */
export const KEY_LENGTH = 32
export const IV_LENGTH = 12
export const TAG_LENGTH = 16
/** Bytes before the ciphertext in an `Updated` payload: state, token, key, IV and tag. */
export const UPDATED_HEADER_LENGTH = 1 + 8 + KEY_LENGTH + IV_LENGTH + TAG_LENGTH

/**
 * The type of an answer whose body is an image's bare ciphertext (a Success payload without
 * its state byte), sent by a web server in front of the route (`fileDelivery`).
 */
export const CIPHERTEXT_TYPE = 'application/x-pixstore-ciphertext'

/**
 * A decoded payload of the image route.
 * - `Success`: the client's token is current; decrypt with the record's meta.
 * - `Variant`: the variant the client asked for; decrypt with the key derived for it.
 * - `Updated`: the image changed (or the client sent no token); the payload carries the
 *   current token and decryption meta.
 * - any other state: the request was refused or failed; no image bytes.
 */
export type Payload =
  | { state: typeof PayloadState.Success; ciphertext: Uint8Array }
  | { state: typeof PayloadState.Variant; ciphertext: Uint8Array }
  | {
      state: typeof PayloadState.Updated
      token: number
      key: Uint8Array
      iv: Uint8Array
      tag: Uint8Array
      ciphertext: Uint8Array
    }
  | {
      state: Exclude<PayloadState, typeof PayloadState.Success | typeof PayloadState.Updated | typeof PayloadState.Variant>
    }

/**
 * Encodes the header of an `Updated` payload, the bytes that precede its ciphertext.
 * A server can send it and then stream the ciphertext.
 */
export function encodeUpdatedHeader(token: number, key: Uint8Array, iv: Uint8Array, tag: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(token) || token < 0) throw new PixstoreError('INVALID_PAYLOAD', 'A token must be a non-negative safe integer')
  if (key.length !== KEY_LENGTH || iv.length !== IV_LENGTH || tag.length !== TAG_LENGTH) {
    throw new PixstoreError('INVALID_PAYLOAD', 'Key, IV or tag has the wrong length')
  }
  const header = new Uint8Array(UPDATED_HEADER_LENGTH)
  header[0] = PayloadState.Updated
  new DataView(header.buffer).setBigUint64(1, BigInt(token), true)
  header.set(key, 9)
  header.set(iv, 9 + KEY_LENGTH)
  header.set(tag, 9 + KEY_LENGTH + IV_LENGTH)
  return header
}

/** Encodes a payload into the binary body of the image route. */
export function encodePayload(payload: Payload): Uint8Array {
  switch (payload.state) {
    case PayloadState.Success:
    case PayloadState.Variant: {
      const out = new Uint8Array(1 + payload.ciphertext.length)
      out[0] = payload.state
      out.set(payload.ciphertext, 1)
      return out
    }
    case PayloadState.Updated: {
      const header = encodeUpdatedHeader(payload.token, payload.key, payload.iv, payload.tag)
      const out = new Uint8Array(header.length + payload.ciphertext.length)
      out.set(header)
      out.set(payload.ciphertext, header.length)
      return out
    }
    default:
      return Uint8Array.of(payload.state)
  }
}

function malformed(reason: string): PixstoreError {
  return new PixstoreError('INVALID_PAYLOAD', `The image payload is malformed: ${reason}`)
}

/**
 * Decodes a binary body of the image route. Byte arrays in the result are views into
 * `bytes`, not copies.
 *
 * @throws PixstoreError `INVALID_PAYLOAD` for an empty, truncated or unknown payload.
 */
export function decodePayload(bytes: Uint8Array): Payload {
  if (bytes.length === 0) throw malformed('it is empty')
  const state = bytes[0]!
  switch (state) {
    case PayloadState.Success:
      if (bytes.length < 2) throw malformed('a success payload has no ciphertext')
      return { state, ciphertext: bytes.subarray(1) }
    case PayloadState.Variant:
      if (bytes.length < 2 + TAG_LENGTH) throw malformed('a variant payload is truncated')
      return { state, ciphertext: bytes.subarray(1) }
    case PayloadState.Updated: {
      if (bytes.length < UPDATED_HEADER_LENGTH + 1) throw malformed('an updated payload is truncated')
      const token = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(1, true)
      if (token > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed('the token is out of range')
      return {
        state,
        token: Number(token),
        key: bytes.subarray(9, 9 + KEY_LENGTH),
        iv: bytes.subarray(9 + KEY_LENGTH, 9 + KEY_LENGTH + IV_LENGTH),
        tag: bytes.subarray(9 + KEY_LENGTH + IV_LENGTH, UPDATED_HEADER_LENGTH),
        ciphertext: bytes.subarray(UPDATED_HEADER_LENGTH),
      }
    }
    case PayloadState.NotFound:
    case PayloadState.MissingID:
    case PayloadState.MissingProof:
    case PayloadState.InvalidProof:
    case PayloadState.InternalError:
      if (bytes.length !== 1) throw malformed(`state ${state} carries unexpected bytes`)
      return { state }
    default:
      throw malformed(`unknown state ${state}`)
  }
}
