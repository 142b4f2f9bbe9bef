import { defineConfig } from 'vite';
import { minifyTemplates } from './scripts/minify-templates.mjs';

/**
 * Two library builds from one config:
 * - default: dist/live-chat.js, the script-tag bundle (IIFE, every dependency inlined);
 * - `--mode esm`: dist/esm/, ES modules for people who import the package (dependencies left to their bundler).
 */
export default defineConfig(({ mode }) =>
  mode === 'esm'
    ? {
        build: {
          outDir: 'dist/esm',
          emptyOutDir: true,
          sourcemap: true,
          minify: false,
          lib: {
            entry: { index: 'src/index.ts', protocol: 'src/protocol/index.ts', define: 'src/ui/register.ts' },
            formats: ['es'],
          },
          rollupOptions: { external: [/^lit(\/|$)/, /^@lit\//, /^zod(\/|$)/, /^idb(\/|$)/] },
        },
      }
    : {
        plugins: [minifyTemplates()],
        build: {
          outDir: 'dist',
          emptyOutDir: false,
          target: 'es2022',
          lib: {
            entry: 'src/ui/register.ts',
            formats: ['iife'],
            name: 'LiveChat',
            fileName: () => 'live-chat.js',
          },
          rollupOptions: {
            // Loaded a second time (two embeds on a page), the bundle runs none of its code: Lit's would
            // ask Trusted Types for its policy again, which a strict CSP refuses with an uncaught error.
            output: { banner: 'if (!window.customElements?.get("live-chat")) {', footer: '}' },
          },
        },
      },
);
