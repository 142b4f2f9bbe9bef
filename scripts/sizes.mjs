import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** Raw, gzip (level 9) and brotli (max quality) sizes of a file, in bytes. */
export function sizesOf(path) {
  const raw = readFileSync(path);
  return {
    raw: raw.length,
    gzip: gzipSync(raw, { level: 9 }).length,
    brotli: brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

export const kb = (bytes) => `${(bytes / 1024).toFixed(2)} KiB`;
export const formatSizes = ({ raw, gzip, brotli }) => `${kb(raw)} raw, ${kb(gzip)} gzip, ${kb(brotli)} brotli`;
