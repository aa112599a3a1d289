import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { decodeImage } from '../predict/preprocess.js';
import { loadRun } from '../predict/run_files.js';
import type { PageConfig } from './page/page_config.js';
import { classSlug } from '../report/samples.js';
import { writeTrainable, type TrainableSettings } from './trainable.js';

export interface ExportWebSettings {
  /** Training run folder (model.onnx + config.json), or a model.onnx with config.json beside it. */
  run: string;
  /**
   * Output folder; default `<run>/web`. Replaced as a whole if it holds an earlier export and nothing else;
   * any other non-empty folder is refused.
   */
  out?: string;
  /** Sample images to show on the page; default the image files in `<run>/samples/`. */
  samples?: string[];
  /** At most this many samples are copied, in name order; default 12. */
  maxSamples?: number;
  /** Write `<file>.gz` and `<file>.br` beside each compressible file, for `serve` and static hosts; default true. */
  compress?: boolean;
  /**
   * Also export what the page needs to fine-tune the model (a "Teach" panel): the run's train_step graph,
   * replay images and their contract, under train/. Default off: the page only classifies.
   */
  trainable?: TrainableSettings | boolean;
}

export interface ExportWebResult {
  out: string;
  /** Files written, relative to `out`, sorted. */
  files: string[];
  bytes: number;
}

/** The compiled page entries (dist/src/web/page/): the page, its decoding worker and its training worker; their relative imports are copied with them. */
const PAGE_ENTRIES = ['./page/app.js', './page/prep_worker.js', './page/teach_worker.js'].map((f) => fileURLToPath(new URL(f, import.meta.url)));
/** dist/src: module paths under it keep their layout under `<out>/js/`. */
const COMPILED_SRC = fileURLToPath(new URL('../', import.meta.url));
/** The repo's web/ folder (index.html, style.css), from dist/src/web/. */
const WEB_ASSETS = fileURLToPath(new URL('../../../web/', import.meta.url));
const ASSETS = ['index.html', 'style.css'];
/**
 * onnxruntime-web's two builds the page chooses between. `wasm` (CPU only, 14 MB, 2.8 MB brotli) is what
 * most visitors load; `webgpu` (JSEP: WebGPU and wasm providers, 28 MB) only where a hardware GPU adapter
 * exists. Each entry loads an ort-wasm-*.mjs helper and its .wasm binary, found by reading the entry.
 */
const RUNTIME_ENTRIES = { wasm: 'ort.wasm.min.mjs', webgpu: 'ort.min.mjs' } as const;
const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif']);
/**
 * Written last into every export: the files this tool wrote. An existing `out` is replaced only when it
 * holds this manifest and nothing besides the files it lists.
 */
export const EXPORT_MANIFEST = 'onnxtrain-export.json';
const MANIFEST_TOOL = 'onnxtrain export-web';

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/** Relative ES module imports of compiled JS: `from './x.js'` and `import('./x.js')`. */
function relativeImports(code: string): string[] {
  const found = [...code.matchAll(/(?:from\s*|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
  return [...new Set(found)];
}

/** Copy the page module and every module it imports, keeping paths relative to dist/src. */
async function copyPageModules(outJs: string): Promise<string[]> {
  for (const entry of PAGE_ENTRIES) if (!(await exists(entry))) throw new Error(`exportWeb: ${entry} is missing; compile first with \`npx tsc -p .\``);
  const done = new Set<string>();
  const todo = [...PAGE_ENTRIES];
  while (todo.length) {
    const file = todo.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const rel = path.relative(COMPILED_SRC, file);
    if (rel.startsWith('..')) throw new Error(`exportWeb: page module ${file} lies outside ${COMPILED_SRC}`);
    const code = (await readFile(file, 'utf8')).replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
    await mkdir(path.dirname(path.join(outJs, rel)), { recursive: true });
    await writeFile(path.join(outJs, rel), code);
    for (const imp of relativeImports(code)) todo.push(path.resolve(path.dirname(file), imp));
  }
  return [...done];
}

function runtimeDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return path.dirname(require.resolve('onnxruntime-web'));
  } catch {
    throw new Error('exportWeb: onnxruntime-web is not installed; run `npm ci`');
  }
}

/** Each build's entry module, the helper module it loads and that helper's .wasm binary. */
async function copyRuntime(outOrt: string): Promise<PageConfig['runtime']> {
  const dir = runtimeDir();
  await mkdir(outOrt, { recursive: true });
  const copy = async (f: string, why: string) => {
    if (!(await exists(path.join(dir, f)))) throw new Error(`exportWeb: onnxruntime-web lacks ${f}${why}; reinstall it (npm ci)`);
    await copyFile(path.join(dir, f), path.join(outOrt, f));
    return (await stat(path.join(outOrt, f))).size;
  };
  const build = async (entry: string) => {
    await copy(entry, '');
    const helpers = [...new Set((await readFile(path.join(dir, entry), 'utf8')).match(/ort-wasm-[a-z.-]+?\.mjs/g) ?? [])];
    if (helpers.length !== 1) throw new Error(`exportWeb: ${entry} names ${helpers.length} ort-wasm-*.mjs helpers, expected one; this onnxruntime-web version is not supported`);
    const binary = helpers[0].replace(/\.mjs$/, '.wasm');
    await copy(helpers[0], `, which ${entry} loads`);
    const bytes = await copy(binary, `, which ${entry} loads`);
    return { module: `ort/${entry}`, binary: `ort/${binary}`, bytes };
  };
  return { wasm: await build(RUNTIME_ENTRIES.wasm), webgpu: await build(RUNTIME_ENTRIES.webgpu) };
}

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);

/**
 * `<file>.gz` and `<file>.br` beside each file that compresses (not images), so a server sends the small
 * copy to browsers that accept it. Small files get the strongest settings; files over 256 kB (the wasm
 * binaries, the model) get brotli quality 6 with a 16 MB window and gzip level 6: about 1 s per 14 MB
 * instead of a minute, for 0.2-20 % more bytes.
 */
async function precompress(dir: string, files: string[]): Promise<string[]> {
  const written: string[] = [];
  await Promise.all(files.filter((f) => !IMAGE_EXT.has(path.extname(f).toLowerCase())).map(async (f) => {
    const bytes = await readFile(path.join(dir, f));
    const big = bytes.length > 256 * 1024;
    const [gz, br] = await Promise.all([
      gzip(bytes, { level: big ? 6 : 9 }),
      brotli(bytes, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: big ? 6 : 11,
          [zlib.constants.BROTLI_PARAM_LGWIN]: big ? 24 : 22,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        },
      }),
    ]);
    for (const [ext, packed] of [['.gz', gz], ['.br', br]] as const) {
      if (packed.length >= bytes.length * 0.95) continue;
      await writeFile(path.join(dir, f + ext), packed);
      written.push(f + ext);
    }
  }));
  return written;
}

/**
 * Whether `out` may be replaced: it does not exist, is an empty folder, or holds an earlier export's
 * manifest and no file that the manifest does not list. Throws with the fix otherwise.
 */
async function checkReplaceable(out: string): Promise<void> {
  const info = await stat(out).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) throw new Error(`exportWeb: out '${out}' is a file, not a folder; choose another --out`);
  const present = await listFiles(out);
  if (present.length === 0) return;
  let listed: Set<string>;
  try {
    const manifest = JSON.parse(await readFile(path.join(out, EXPORT_MANIFEST), 'utf8')) as { tool?: unknown; files?: unknown };
    if (manifest.tool !== MANIFEST_TOOL || !Array.isArray(manifest.files)) throw new Error('not ours');
    listed = new Set(manifest.files.filter((f): f is string => typeof f === 'string'));
  } catch {
    throw new Error(
      `exportWeb: '${out}' exists and was not written by export-web (it has no ${EXPORT_MANIFEST}), so it is left as it is; ` +
        'choose another --out, or move that folder away yourself');
  }
  const foreign = present.filter((f) => f !== EXPORT_MANIFEST && !listed.has(f));
  if (foreign.length) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, and ${foreign.length - 5} more` : '');
    throw new Error(
      `exportWeb: '${out}' holds ${foreign.length} file${foreign.length > 1 ? 's' : ''} that export-web did not write (${shown}); ` +
        'export-web replaces the whole folder, so move them elsewhere first, or choose another --out');
  }
}

/** The run's test accuracy from results.json ({ test: { acc } }), if it has one. */
async function readTestAccuracy(runDir: string): Promise<number | undefined> {
  try {
    const acc = (JSON.parse(await readFile(path.join(runDir, 'results.json'), 'utf8')) as { test?: { acc?: unknown } }).test?.acc;
    return typeof acc === 'number' && acc >= 0 && acc <= 1 ? acc : undefined;
  } catch {
    return undefined;
  }
}

async function findSamples(runDir: string, given: string[] | undefined, max: number): Promise<string[]> {
  if (given) return given.slice(0, max);
  const dir = path.join(runDir, 'samples');
  if (!(await exists(dir))) return [];
  const names = (await readdir(dir)).filter((n) => IMAGE_EXT.has(path.extname(n).toLowerCase())).sort();
  return names.slice(0, max).map((n) => path.join(dir, n));
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(path.join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

/**
 * Write a self-contained static page for a run: index.html, style.css, the page's modules under js/,
 * model.onnx (byte-identical), config.json, onnxruntime-web's two builds under ort/, samples/, a .gz and .br
 * beside each compressible file, and the manifest of all of them. Built in a temporary
 * folder beside `out`, then renamed into place, so `out` is never half-written.
 */
export async function exportWeb(settings: ExportWebSettings): Promise<ExportWebResult> {
  const { maxSamples = 12, compress = true } = settings;
  const run = await loadRun(settings.run);
  const out = path.resolve(settings.out ?? path.join(run.dir, 'web'));
  if (run.dir === out || run.dir.startsWith(out + path.sep)) {
    throw new Error(`exportWeb: out '${out}' would replace the run folder itself; choose a folder inside it or elsewhere`);
  }
  await checkReplaceable(out);
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    for (const f of ASSETS) {
      const src = path.join(WEB_ASSETS, f);
      if (!(await exists(src))) throw new Error(`exportWeb: page asset ${src} is missing; restore web/ from the repository`);
      await copyFile(src, path.join(tmp, f));
    }
    await copyPageModules(path.join(tmp, 'js'));
    await copyFile(run.modelPath, path.join(tmp, 'model.onnx'));
    const runtime = await copyRuntime(path.join(tmp, 'ort'));

    const samples: string[] = [];
    const sampleFiles = await findSamples(run.dir, settings.samples, maxSamples);
    if (sampleFiles.length) await mkdir(path.join(tmp, 'samples'));
    for (const file of sampleFiles) {
      await decodeImage(file); // refuse a sample the page could not show
      const clean = path.basename(file).replace(/[^A-Za-z0-9._-]/g, '_');
      const name = samples.includes(`samples/${clean}`) ? `${samples.length}-${clean}` : clean;
      await copyFile(file, path.join(tmp, 'samples', name));
      samples.push(`samples/${name}`);
    }
    let modelBytes = (await stat(run.modelPath)).size;
    const slugs = run.config.classNames.map(classSlug);
    // writeSampleImages names each sample `<index>-<class slug>.png`: the class it truly is.
    const sampleLabels = samples.map((src) => {
      const m = path.basename(src).match(/^\d+-(.+)\.[a-z]+$/i);
      const k = m ? slugs.indexOf(m[1].toLowerCase()) : -1;
      return k >= 0 ? k : null;
    });
    const testAccuracy = await readTestAccuracy(run.dir);
    const { trainable } = settings;
    const trained = trainable ? await writeTrainable(run.dir, run.modelPath, tmp, trainable === true ? {} : trainable) : undefined;
    if (trained?.model) {
      await writeFile(path.join(tmp, 'model.onnx'), trained.model);
      modelBytes = trained.model.length;
    }
    const teach = trained?.teach;
    const page: PageConfig = {
      ...run.config, modelFile: 'model.onnx', modelBytes, runtime, samples, sampleLabels, ...(testAccuracy === undefined ? {} : { testAccuracy }),
      ...(teach ? { teach } : {}),
    };
    await writeFile(path.join(tmp, 'config.json'), JSON.stringify(page, null, 2) + '\n');
    const written = await listFiles(tmp);
    if (compress) written.push(...(await precompress(tmp, written)));
    const manifest = { tool: MANIFEST_TOOL, files: written.sort() };
    await writeFile(path.join(tmp, EXPORT_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');

    const old = `${out}.old-${process.pid}-${Date.now()}`;
    const replacing = await exists(out);
    if (replacing) await rename(out, old);
    await rename(tmp, out);
    if (replacing) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const files = await listFiles(out);
  let bytes = 0;
  for (const f of files) bytes += (await stat(path.join(out, f))).size;
  return { out, files, bytes };
}
