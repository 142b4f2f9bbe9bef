import { MAX_CONTENT_CHARS, MIN_CONTENT_CHARS } from './limits.js';

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Length in Unicode code points, which is what the 4000-character limit counts (not UTF-16 units). */
export function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

export const hasLoneSurrogate = (text: string): boolean => LONE_SURROGATE.test(text);

/** Why `content` would be refused, or null when it is acceptable. Shared by the schema and by the composer. */
export function contentProblem(content: string): string | null {
  if (content.includes('\0')) return 'must not contain NUL characters';
  if (hasLoneSurrogate(content)) return 'must not contain lone UTF-16 surrogates';
  const length = codePointLength(content.trim());
  if (length < MIN_CONTENT_CHARS) return 'must not be empty or only white space';
  if (length > MAX_CONTENT_CHARS) return `must be at most ${MAX_CONTENT_CHARS} characters after trimming (got ${length})`;
  return null;
}
