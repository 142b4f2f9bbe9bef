// Where a link in a message starts and ends: the only markup messages get (src/ui/linkify.ts).
import { expect } from '@open-wc/testing';
import { linkify } from '../../src/ui/linkify.js';

const links = (text: string) => linkify(text).flatMap((part) => (part.href ? [part.href] : []));

describe('linkify', () => {
  it('keeps the text whole: the parts put together are the message', () => {
    const text = 'see (https://example.com/a_(b)) and http://example.org. Thanks!';
    expect(linkify(text).map((part) => part.text).join('')).to.equal(text);
  });

  it('ends a link before the punctuation that ends a sentence, and before a closing bracket it did not open', () => {
    expect(links('see https://example.com/a?b=1&c=<2> and http://example.org.')).to.deep.equal(['https://example.com/a?b=1&c=', 'http://example.org']);
    expect(links('(see https://example.com/x).')).to.deep.equal(['https://example.com/x']);
    expect(links('"https://example.com/q?x=1", she said')).to.deep.equal(['https://example.com/q?x=1']);
  });

  it('keeps a closing bracket the link opened', () => {
    expect(links('https://en.wikipedia.org/wiki/Mercury_(planet)')).to.deep.equal(['https://en.wikipedia.org/wiki/Mercury_(planet)']);
    expect(links('read https://en.wikipedia.org/wiki/Mercury_(planet).')).to.deep.equal(['https://en.wikipedia.org/wiki/Mercury_(planet)']);
  });

  it('ends a link where Japanese, Chinese or Thai text runs on after it, and at full-width punctuation', () => {
    expect(links('詳細はhttps://example.com/ja/faqをご覧ください。')).to.deep.equal(['https://example.com/ja/faq']);
    expect(links('請看https://example.com/tw，謝謝')).to.deep.equal(['https://example.com/tw']);
    expect(links('（https://example.com/paren）')).to.deep.equal(['https://example.com/paren']);
    expect(links('ดูที่https://example.com/thได้เลยครับ')).to.deep.equal(['https://example.com/th']);
  });

  it('takes in letters of scripts written with spaces (an internationalised host or path), whole', () => {
    expect(links('at https://bücher.de/straße now')).to.deep.equal(['https://bücher.de/straße']);
    expect(links('см. https://пример.рф/путь')).to.deep.equal(['https://пример.рф/путь']);
  });

  // How long these take as they grow is `npm run bench:linkify` (the trim was once quadratic).
  it('trims a link built to be slow to trim (thousands of unopened brackets and dots) to what it holds', () => {
    expect(links(`https://a/${')'.repeat(3990)}`)).to.deep.equal(['https://a/']);
    expect(links(`https://a/${'.'.repeat(2660)}x${')'.repeat(1329)}`)).to.deep.equal([`https://a/${'.'.repeat(2660)}x`]);
    expect(links(`https://${'a'.repeat(3990)}`)).to.deep.equal([`https://${'a'.repeat(3990)}`]);
  });

  it('makes no link of a scheme with nothing after it', () => {
    expect(links('https://... and http:// alone')).to.deep.equal([]);
  });

  it('links http and https only', () => {
    expect(links('javascript:alert(1) ftp://example.com data:text/html,x mailto:a@b.c')).to.deep.equal([]);
  });
});
