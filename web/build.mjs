// Builds the browser editor into web/dist (committed, embedded by
// web/embed.go):
//
//	node web/build.mjs              writes web/dist
//	node web/build.mjs --out DIR    writes DIR instead (the test command
//	                                builds elsewhere and compares with dist)
//
// The output is deterministic: the same sources give byte-identical files,
// with content hashes in the asset names so they can be cached for ever.
// index.html is the only unhashed file; the server sends it with no-cache.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  let out = join(here, 'dist');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && i + 1 < argv.length) {
      out = resolve(argv[++i]);
    } else if (argv[i].startsWith('--out=')) {
      out = resolve(argv[i].slice('--out='.length));
    } else {
      throw new Error(`unknown argument ${JSON.stringify(argv[i])}; usage: node web/build.mjs [--out DIR]`);
    }
  }
  return { out };
}

const hash8 = (b) => createHash('sha256').update(b).digest('hex').slice(0, 8);

async function build() {
  const { out } = parseArgs(process.argv.slice(2));
  const assets = join(out, 'assets');
  const result = await esbuild.build({
    entryPoints: [join(here, 'src/app/main.js')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2020',
    platform: 'browser',
    outdir: assets,
    // Names get a hash of their content below (esbuild's [hash] also
    // depends on input paths); one bundle, no chunks, so nothing refers
    // to these names but index.html.
    entryNames: '[name]',
    assetNames: '[name]',
    legalComments: 'none',
    sourcemap: false,
    metafile: true,
    write: false,
    logLevel: 'warning',
    // Paths in the output must not depend on where the checkout lives.
    absWorkingDir: here,
    define: { 'process.env.NODE_ENV': '"production"' },
  });

  await rm(out, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  let js = '';
  let css = '';
  let jsBytes = null;
  for (const f of result.outputFiles) {
    const plain = relative(assets, f.path).split('\\').join('/');
    const dot = plain.lastIndexOf('.');
    const name = `${plain.slice(0, dot)}-${hash8(f.contents)}${plain.slice(dot)}`;
    if (name.includes('/')) throw new Error(`unexpected output ${plain}`);
    await writeFile(join(assets, name), f.contents);
    if (name.endsWith('.js')) {
      js = name;
      jsBytes = f.contents;
    } else if (name.endsWith('.css')) {
      css = name;
    }
  }
  if (!js || !css) {
    throw new Error(`esbuild gave no ${js ? 'CSS' : 'JS'} output`);
  }

  const icon = await readFile(join(here, 'src/app/favicon.svg'));
  const iconName = `favicon-${hash8(icon)}.svg`;
  await writeFile(join(assets, iconName), icon);

  const template = await readFile(join(here, 'src/app/index.html'), 'utf8');
  const html = template
    .replaceAll('{{js}}', `/assets/${js}`)
    .replaceAll('{{css}}', `/assets/${css}`)
    .replaceAll('{{icon}}', `/assets/${iconName}`);
  if (html.includes('{{')) {
    throw new Error('index.html has a placeholder the build does not fill');
  }
  await writeFile(join(out, 'index.html'), html);

  const gz = gzipSync(jsBytes, { level: 9 }).length;
  console.log(`built ${relative(process.cwd(), out) || '.'}: assets/${js} ${(jsBytes.length / 1024).toFixed(1)} KiB, ${(gz / 1024).toFixed(1)} KiB gzip; assets/${css}`);
}

build().catch((err) => {
  console.error(err.message || err);
  process.exit(1);
});
