/** Where datasets live, and how paths appear in messages. */
import { isAbsolute, relative, resolve, sep } from 'node:path';

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
