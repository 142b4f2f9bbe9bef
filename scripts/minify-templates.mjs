// A Vite plugin for the script-tag bundle: the minifier leaves template literals as they are, so
// the CSS in css`…` and the markup in html`…` kept their comments, line breaks and indentation
// (0.7 KiB gzip). This takes them out of the static parts of those literals only (never of the
// expressions between them), with TypeScript's parser finding where the literals are.
import ts from 'typescript';

/** CSS without comments and with the least whitespace, quoted strings left alone (our CSS has no comment markers inside strings). */
export function minifyCss(text) {
  // Comments first: their words may hold an apostrophe, which would look like a string's start.
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split(/('[^']*'|"[^"]*")/)
    .map((part, i) => (i % 2 ? part : part.replace(/\s+/g, ' ').replace(/ ?([{};,]) ?/g, '$1').replace(/: /g, ':')))
    .join('');
}

/**
 * Markup with each run of whitespace that holds a line break made one space: the same rendering
 * wherever whitespace collapses, which is everywhere the templates put line breaks (the bubbles,
 * whose text keeps its own, interpolate it with no whitespace around).
 */
export function minifyHtml(text) {
  return text.replace(/\s*\n\s*/g, ' ');
}

const MINIFY = { css: minifyCss, html: minifyHtml };

/** The source with the static parts of its css`…` and html`…` literals minified. */
export function minifyTemplatesIn(code, fileName = 'source.ts') {
  const source = ts.createSourceFile(fileName, code, ts.ScriptTarget.Latest, true);
  const edits = [];
  const visit = (node) => {
    const minify = ts.isTaggedTemplateExpression(node) && ts.isIdentifier(node.tag) ? MINIFY[node.tag.text] : undefined;
    if (minify) {
      const template = node.template;
      const parts = ts.isNoSubstitutionTemplateLiteral(template) ? [template] : [template.head, ...template.templateSpans.map((span) => span.literal)];
      for (const part of parts) {
        // Between ` or } and ` or ${.
        const start = part.getStart(source) + 1;
        const end = part.end - (ts.isTemplateHead(part) || ts.isTemplateMiddle(part) ? 2 : 1);
        const text = code.slice(start, end);
        const minified = minify(text);
        if (minified !== text) edits.push({ start, end, minified });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  for (const { start, end, minified } of edits.sort((a, b) => b.start - a.start)) code = code.slice(0, start) + minified + code.slice(end);
  return code;
}

/** The plugin: our own UI sources only (Lit's own templates are minified already). */
export function minifyTemplates() {
  return {
    name: 'live-chat:minify-templates',
    enforce: 'pre',
    transform(code, id) {
      if (!/\/src\/ui\/[^/]+\.ts$/.test(id)) return undefined;
      return { code: minifyTemplatesIn(code, id), map: null };
    },
  };
}
