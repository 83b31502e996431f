/** Longest image id accepted, in characters. */
export const MAX_ID_LENGTH = 200

// Letters, digits and `_ - . : @` only, so an id can never name a path, a URL part or a
// control character; `..` anywhere and a lone `.` are refused, since either would be a
// dot segment in the image route's URL and send the request (and its proof) elsewhere.
const idPattern = /^[A-Za-z0-9_.:@-]+$/

/** Whether `id` is an image id Pixstore accepts: the same rule on the backend and in the browser. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH && idPattern.test(id) && !id.includes('..') && id !== '.'
}
