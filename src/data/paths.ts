/** Where datasets live, and how paths appear in messages. */
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { kindOf } from '../util/fsx.js';

/** The project's dataset cache for `name`: `<cwd>/data/<name>`. */
export function projectDataDir(name: string): string {
  return resolve(process.cwd(), 'data', name);
}

/** A path as a user would type it: relative to the working directory when inside it, else absolute. */
export function displayPath(path: string): string {
  const abs = resolve(path);
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : abs;
}

/**
 * Throws one line unless `dir`, a data folder the user named (`--data-dir`, the loaders' `dataDir`),
 * is a folder this process can list and read. Without this a typo would silently fall back to the
 * system copy of the data or download into a fresh folder.
 */
export function checkDataDir(dir: string, dataset: string): void {
  const shown = displayPath(dir);
  const fix = `pass the folder that holds the ${dataset} files, or leave out --data-dir to use data/${dataset}`;
  let s;
  try {
    s = statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `--data-dir ${shown} does not exist: ${fix}` : `--data-dir ${shown} cannot be read (${code}): ${fix}`, { cause: err });
  }
  if (!s.isDirectory()) throw new Error(`--data-dir ${shown} is ${kindOf(s)}, not a folder: ${fix}`);
  try {
    accessSync(dir, constants.R_OK | constants.X_OK);
  } catch (err) {
    throw new Error(`--data-dir ${shown} is not readable (${(err as NodeJS.ErrnoException).code}): give read permission (chmod a+rx ${shown}), or ${fix}`, { cause: err });
  }
}
