/** The tag of an image reference ('repo/app:v1-crash' -> 'v1-crash'; no tag -> 'latest'). */
export function imageTag(image: string): string {
  const ref = image.split('@')[0] ?? image
  const last = ref.split('/').pop() ?? ref
  const i = last.indexOf(':')
  return i === -1 ? 'latest' : last.slice(i + 1)
}
