#!/usr/bin/env node
// Precompresses the built client for the server's ServeDir (precompressed_br/precompressed_gzip):
// writes X.br (brotli, quality 11) and X.gz (gzip, level 9) next to every .wasm/.js/.css/.svg/.html
// file, when the result is smaller than X. Node's built-in zlib only: no downloads at build time.
//
// Run by Trunk as a post_build hook (Trunk.toml), on the staging directory Trunk names in
// TRUNK_STAGING_DIR, after index.html is written and before the directory becomes dist/.
// By hand: `node tools/compress-dist.mjs dist`.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const EXTENSIONS = ['.wasm', '.js', '.css', '.svg', '.html'];
const dir = process.argv[2] ?? process.env.TRUNK_STAGING_DIR;
if (!dir) {
  console.error('compress-dist: no directory (set TRUNK_STAGING_DIR or pass one)');
  process.exit(2);
}

function* files(d) {
  for (const entry of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, entry.name);
    if (entry.isDirectory()) yield* files(p);
    else if (entry.isFile() && EXTENSIONS.some((ext) => entry.name.endsWith(ext))) yield p;
  }
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
let raw = 0;
let br = 0;
let gz = 0;
for (const file of files(dir)) {
  const data = readFileSync(file);
  const brotli = brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_MODE]: file.endsWith('.wasm')
        ? constants.BROTLI_MODE_GENERIC
        : constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
  const gzip = gzipSync(data, { level: 9 });
  // A variant no smaller than the file is not written: the server then sends the file itself.
  if (brotli.length < data.length) writeFileSync(`${file}.br`, brotli);
  if (gzip.length < data.length) writeFileSync(`${file}.gz`, gzip);
  raw += data.length;
  br += Math.min(brotli.length, data.length);
  gz += Math.min(gzip.length, data.length);
  console.log(
    `compress-dist: ${relative(dir, file)}: ${kib(data.length)} -> br ${kib(brotli.length)}, gzip ${kib(gzip.length)}`,
  );
}
console.log(`compress-dist: total ${kib(raw)} -> br ${kib(br)}, gzip ${kib(gz)}`);
