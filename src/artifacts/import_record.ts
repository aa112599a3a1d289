/**
 * The import folder's contract (`onnxtrain import`, README "Artifacts"): import.json beside the source
 * model.onnx, and what `train <folder>` reads from it. Light on purpose: the CLI reads it while parsing.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularFileSync } from '../util/fsx.js';

export const IMPORT_FORMAT = 'onnxtrain-import/1';
export const IMPORT_RECORD = 'import.json';
export const IMPORT_MODEL = 'model.onnx';

/** Folder images: per-channel mean/std of the training images ('auto'), or ImageNet's. */
export type NormalizeMode = 'auto' | 'imagenet';

/** import.json. */
export interface ImportRecord {
  format: typeof IMPORT_FORMAT;
  /** The model's name in runs (default: the source file's base name). */
  name: string;
  /** The file imported (its base name) and the sha256 of its bytes (model.onnx holds them unchanged). */
  source: { file: string; sha256: string; bytes: number };
  /** [C, H, W] of one image. */
  inputShape: [number, number, number];
  normalize: NormalizeMode;
  /** Outputs of the model as it is (a run on a folder replaces the head when its class count differs). */
  numClasses: number;
  /** The import report (src/import ImportReport): ops, parameters, buffers, warnings. */
  report: unknown;
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Settings of a run on an import folder: its model.onnx, with the recorded input shape and normalisation. */
export interface ImportFolderRun {
  model: string;
  modelFile: string;
  importFolder: string;
  input: [number, number, number];
  normalize: NormalizeMode;
}

/** Whether `dir` holds an earlier import (a readable import.json of this format), so a new import may replace it. */
export function isImportFolder(dir: string): boolean {
  try {
    return checkRecord(JSON.parse(readRegularFileSync(join(dir, IMPORT_RECORD), '').toString('utf8')));
  } catch {
    return false;
  }
}

function checkRecord(r: unknown): r is ImportRecord {
  const rec = r as Partial<ImportRecord> | null;
  return rec?.format === IMPORT_FORMAT && typeof rec.name === 'string' && typeof rec.source?.sha256 === 'string' &&
    Array.isArray(rec.inputShape) && rec.inputShape.length === 3 && rec.inputShape.every((d) => Number.isInteger(d) && d > 0) &&
    (rec.normalize === 'auto' || rec.normalize === 'imagenet');
}

/**
 * The import folder `dir`, checked: import.json readable and of this format, model.onnx the bytes that were
 * imported (sha256). Throws one line naming the problem and the fix.
 */
export function readImportFolder(dir: string): { record: ImportRecord; run: ImportFolderRun } {
  const again = `onnxtrain import <model.onnx> --out ${dir}`;
  const recordPath = join(dir, IMPORT_RECORD);
  if (!existsSync(recordPath)) throw new Error(`${dir} is a folder without ${IMPORT_RECORD}, not an import folder: make one with ${again}, or give an ONNX file with --model`);
  let record: unknown;
  try {
    record = JSON.parse(readRegularFileSync(recordPath, 'import the model again').toString('utf8'));
  } catch (e) {
    throw new Error(`${recordPath} is damaged (${(e as Error).message.split('\n')[0]}): delete ${dir} and import the model again with ${again}`, { cause: e });
  }
  if (!checkRecord(record)) throw new Error(`${recordPath} is damaged or not an onnxtrain import (format '${IMPORT_FORMAT}'): delete ${dir} and import the model again with ${again}`);
  const modelFile = join(dir, IMPORT_MODEL);
  const bytes = readRegularFileSync(modelFile, `import the model again with ${again}`);
  const hash = sha256(bytes);
  if (hash !== record.source.sha256) {
    throw new Error(`${modelFile} changed since it was imported (sha256 ${hash.slice(0, 12)}..., ${IMPORT_RECORD} records ${record.source.sha256.slice(0, 12)}...): ` +
      `import it again (onnxtrain import ${modelFile} --out ${dir}) so that its ops and graph set are checked`);
  }
  return { record, run: { model: record.name, modelFile, importFolder: dir, input: record.inputShape, normalize: record.normalize } };
}
