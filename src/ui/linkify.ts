/** Text split into plain runs and http(s) links: the only markup messages ever get. */
export type Part = { text: string; href?: string };

/**
 * A link runs over printable ASCII but quotes, angle brackets and the backtick, and over letters
 * and digits of scripts written with spaces (bücher.de, пример.рф). It ends at anything else:
 * Japanese, Chinese, Korean and Thai run their words on right after a URL
 * (詳細はhttps://example.com/faqをご覧ください), and full-width punctuation (，）。) ends it.
 */
const URL_PATTERN = /\bhttps?:\/\/(?:[!#-&(-;=?-_a-~]|(?![\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\p{sc=Thai}])[\p{L}\p{M}\p{N}])+/giu;
/** Punctuation that usually ends a sentence rather than a URL. */
const TRAILING = ".,;:!?']}";

/** The link without what ends the sentence around it: trailing punctuation, and a `)` it did not open. */
function trimEnd(url: string): string {
  let unopened = 0;
  for (const c of url) unopened += c === ')' ? 1 : c === '(' ? -1 : 0;
  let end = url.length;
  for (; end > 0; end--) {
    const c = url[end - 1]!;
    if (c === ')' && unopened > 0) unopened--;
    else if (!TRAILING.includes(c)) break;
  }
  return url.slice(0, end);
}

export function linkify(text: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = trimEnd(match[0]);
    if (!/^https?:\/\/[^/?#]/i.test(url)) continue; // a scheme with no host after it
    const start = match.index;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: url, href: url });
    last = start + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}
