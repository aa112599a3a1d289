import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage } from '../predict/preprocess.js';
import { loadRun } from '../predict/run_files.js';
import type { PageConfig } from './page/page_config.js';

export interface ExportWebSettings {
  /** Training run folder (model.onnx + config.json), or a model.onnx with config.json beside it. */
  run: string;
  /** Output folder; default `<run>/web`. Replaced as a whole if it holds an earlier export. */
  out?: string;
  /** Sample images to show on the page; default the image files in `<run>/samples/`. */
  samples?: string[];
  /** At most this many samples are copied, in name order; default 12. */
  maxSamples?: number;
}

export interface ExportWebResult {
  out: string;
  /** Files written, relative to `out`, sorted. */
  files: string[];
  bytes: number;
}

/** The compiled page entry (dist/src/web/page/app.js); its relative imports are copied with it. */
const PAGE_ENTRY = fileURLToPath(new URL('./page/app.js', import.meta.url));
/** dist/src: module paths under it keep their layout under `<out>/js/`. */
const COMPILED_SRC = fileURLToPath(new URL('../', import.meta.url));
/** The repo's web/ folder (index.html, style.css), from dist/src/web/. */
const WEB_ASSETS = fileURLToPath(new URL('../../../web/', import.meta.url));
const ASSETS = ['index.html', 'style.css'];
/**
 * onnxruntime-web's bundle with WebGPU (JSEP) and wasm execution providers; it loads the
 * ort-wasm-simd-threaded.jsep.{mjs,wasm} files beside it, found by reading the bundle.
 */
const RUNTIME_ENTRY = 'ort.min.mjs';
const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif']);
/** A file every export writes; an existing `out` without it is not ours to replace. */
const MARKER = 'config.json';

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
  if (!(await exists(PAGE_ENTRY))) throw new Error(`exportWeb: ${PAGE_ENTRY} is missing; compile first with \`npx tsc -p .\``);
  const done = new Set<string>();
  const todo = [PAGE_ENTRY];
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

/** ort.min.mjs plus the helper module and wasm binary it loads. */
async function copyRuntime(outOrt: string): Promise<string[]> {
  const dir = runtimeDir();
  const entry = path.join(dir, RUNTIME_ENTRY);
  if (!(await exists(entry))) throw new Error(`exportWeb: ${entry} is missing; reinstall onnxruntime-web (npm ci)`);
  const helpers = [...new Set((await readFile(entry, 'utf8')).match(/ort-wasm-[a-z.-]+?\.mjs/g) ?? [])];
  if (helpers.length === 0) throw new Error(`exportWeb: ${RUNTIME_ENTRY} names no ort-wasm-*.mjs helper; this onnxruntime-web version is not supported`);
  const files = [RUNTIME_ENTRY, ...helpers, ...helpers.map((h) => h.replace(/\.mjs$/, '.wasm'))];
  await mkdir(outOrt, { recursive: true });
  for (const f of files) {
    if (!(await exists(path.join(dir, f)))) throw new Error(`exportWeb: onnxruntime-web lacks ${f}, which ${RUNTIME_ENTRY} loads; reinstall it (npm ci)`);
    await copyFile(path.join(dir, f), path.join(outOrt, f));
  }
  return files;
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
 * model.onnx (byte-identical), config.json, onnxruntime-web under ort/ and samples/. Built in a temporary
 * folder beside `out`, then renamed into place, so `out` is never half-written.
 */
export async function exportWeb(settings: ExportWebSettings): Promise<ExportWebResult> {
  const { maxSamples = 12 } = settings;
  const run = await loadRun(settings.run);
  const out = path.resolve(settings.out ?? path.join(run.dir, 'web'));
  if (run.dir === out || run.dir.startsWith(out + path.sep)) {
    throw new Error(`exportWeb: out '${out}' would replace the run folder itself; choose a folder inside it or elsewhere`);
  }
  if ((await exists(out)) && !(await exists(path.join(out, MARKER)) && await exists(path.join(out, 'index.html')))) {
    throw new Error(`exportWeb: '${out}' exists and is not an exported page; remove it or choose another out folder`);
  }
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
    const page: PageConfig = { ...run.config, modelFile: 'model.onnx', runtime: `ort/${runtime[0]}`, samples };
    await writeFile(path.join(tmp, MARKER), JSON.stringify(page, null, 2) + '\n');

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
