/** A part of a body sent in order: bytes, or a stream of bytes (a blob read from a store). */
export type BodyPart = Uint8Array | AsyncIterable<Uint8Array>

/** Every chunk of `parts`, in order. */
export async function* chunksOf(parts: readonly BodyPart[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) {
    if (part instanceof Uint8Array) yield part
    else yield* part
  }
}

/** `parts` joined into one buffer (the one part itself where there is only one). */
export async function joinParts(parts: readonly BodyPart[]): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of chunksOf(parts)) chunks.push(chunk)
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
}
