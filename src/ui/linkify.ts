/** Text split into plain runs and http(s) links: the only markup messages ever get. */
export type Part = { text: string; href?: string };

/**
 * A link runs over printable ASCII but quotes, angle brackets and the backtick, so it ends at
 * the first other character: Japanese, Chinese and Thai run their words on right after a URL
 * (詳細はhttps://example.com/faqをご覧ください), and full-width punctuation (，）。) ends it.
 */
const URL_PATTERN = /\bhttps?:\/\/[!#-&(-;=?-_a-~]+/gi;
/** Punctuation that usually ends a sentence rather than a URL. */
const TRAILING = /[.,;:!?'\]}]+$/;

/** The link without what ends the sentence around it: trailing punctuation, and a `)` it did not open. */
function trimEnd(url: string): string {
  for (;;) {
    const next = url.replace(TRAILING, '');
    const trimmed = next.endsWith(')') && next.split('(').length < next.split(')').length ? next.slice(0, -1) : next;
    if (trimmed === url) return url;
    url = trimmed;
  }
}

export function linkify(text: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = trimEnd(match[0]);
    if (!/^https?:\/\/\w/i.test(url)) continue; // a scheme with no host after it
    const start = match.index;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: url, href: url });
    last = start + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}
