/**
 * `onnxtrain import`: an ONNX classifier checked op by op (gradients built) and written as an import
 * folder: model.onnx (the source bytes), import.json (import_record.ts) and the graph set of the model as
 * it is, its checkpoint holding the file's own weights.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { IMAGENET_NORMALIZATION, importOnnx, type ImportReport } from '../import/index.js';
import { defaultOptimizerSettings } from '../optim/index.js';
import { compileGraphSet } from '../program/compile.js';
import { checkWritable, readRegularFile, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import { writeGraphSet } from './build.js';
import { IMPORT_FORMAT, IMPORT_MODEL, IMPORT_RECORD, isImportFolder, sha256, type ImportRecord, type NormalizeMode } from './import_record.js';

export interface ImportFolderSettings {
  /** The ONNX file to import. */
  source: string;
  /** Output folder: absent, empty, or an earlier import (replaced). Default models/<file base name>. */
  outDir?: string;
  /** [C, H, W] of one image. Default: the model input's, which must then be fixed. */
  input?: [number, number, number];
  /** Normalisation of folder images when trained. Default 'auto' (mean/std of the training images). */
  normalize?: NormalizeMode;
  /** The model's name in runs. Default: the file's base name. */
  name?: string;
}

/** Where an import goes by default: models/<file base name>. */
export const defaultImportDir = (source: string): string => join('models', baseName(source));
const baseName = (source: string) => basename(source).replace(/\.onnx$/i, '');

/**
 * Import `source` and write its folder. Nothing is written unless the import succeeds; the folder appears
 * (or replaces an earlier import) whole, by renaming a finished sibling into place.
 */
export async function importModelFolder(s: ImportFolderSettings): Promise<{ outDir: string; record: ImportRecord; report: ImportReport; files: string[] }> {
  const outDir = s.outDir ?? defaultImportDir(s.source);
  const bytes = new Uint8Array(await readRegularFile(s.source, 'give the path of an ONNX model file'));
  const normalize = s.normalize ?? 'auto';
  let imported: ReturnType<typeof importOnnx>;
  try {
    imported = importOnnx(bytes, { input: s.input, normalization: normalize === 'imagenet' ? IMAGENET_NORMALIZATION : undefined, name: s.name ?? baseName(s.source) });
  } catch (e) {
    throw new Error(`${s.source}: ${(e as Error).message}`, { cause: e });
  }
  const { def, report } = imported;
  const channels = def.dataset.inputShape[0];
  if (normalize === 'imagenet' && channels !== 3) throw new Error(`--normalize imagenet gives 3 channels of statistics, but ${s.source} takes ${channels}-channel images: drop --normalize`);
  await checkOutDir(outDir);
  const set = compileGraphSet({ def, optimizer: defaultOptimizerSettings('adam') });
  const record: ImportRecord = {
    format: IMPORT_FORMAT,
    name: def.name,
    source: { file: basename(s.source), sha256: sha256(bytes), bytes: bytes.length },
    inputShape: def.dataset.inputShape,
    normalize,
    numClasses: report.numClasses,
    report,
  };
  const tmp = join(dirname(outDir), `.${basename(outDir)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeGraphSet(set, tmp);
    await writeFileAtomic(join(tmp, IMPORT_MODEL), bytes);
    await writeJsonAtomic(join(tmp, IMPORT_RECORD), record);
    await replaceFolder(tmp, outDir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { outDir, record, report, files: (await readdir(outDir)).sort() };
}

/** An import may go to a new or empty folder, or replace an earlier import; anything else is refused. */
async function checkOutDir(outDir: string): Promise<void> {
  const st = await stat(outDir).catch(() => null);
  if (st && !st.isDirectory()) throw new Error(`--out ${outDir} is a file, not a folder: pass a new folder with --out`);
  const entries = st ? await readdir(outDir) : [];
  if (entries.length && !isImportFolder(outDir)) {
    throw new Error(`--out ${outDir} is not empty and holds no onnxtrain import (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): pass a new or empty folder with --out`);
  }
  await checkWritable(outDir, `--out ${outDir}`);
}

/** Rename `from` to `to`; an earlier `to` is moved aside first and removed once the new one is in place. */
async function replaceFolder(from: string, to: string): Promise<void> {
  const old = await stat(to).then(() => true, () => false);
  if (!old) return rename(from, to);
  const entries = await readdir(to);
  if (entries.length === 0) {
    await rmdir(to);
    return rename(from, to);
  }
  const aside = `${from}.old`;
  await rename(to, aside);
  try {
    await rename(from, to);
  } catch (e) {
    await rename(aside, to);
    throw e;
  }
  await rm(aside, { recursive: true, force: true });
}
