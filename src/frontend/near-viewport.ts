/**
 * Runs `action` once `element` comes within 200 px of the viewport, or at once where there
 * is no IntersectionObserver (older browsers, tests). Returns a function that cancels it.
 */
export function whenNearViewport(element: Element, action: () => void): () => void {
  if (typeof IntersectionObserver === 'undefined') {
    action()
    return () => undefined
  }
  const observer = new IntersectionObserver(
    (entries) => {
      if (!entries.some((entry) => entry.isIntersecting)) return
      observer.disconnect()
      action()
    },
    { rootMargin: '200px' },
  )
  observer.observe(element)
  return () => observer.disconnect()
}
