import { existsSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import { isDatasetName, DATASETS } from '../data/datasets.js';
import { normalizeSplit } from '../data/normalize.js';
import { confusionMatrix, formatConfusion, overallAccuracy, perClassAccuracy, renderConfusion } from '../report/confusion.js';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import { lockFolder } from '../util/lock.js';
import { selectClasses } from '../data/prepare.js';
import { runFile } from './run_dir.js';
import { checkDevice, createSession, type Device } from './session.js';

export interface EvaluateSettings {
  /** Run folder holding model.onnx and config.json. */
  run: string;
  /** Dataset folder. Default data/<dataset>. */
  dataDir?: string;
  /** Default 'cpu'. */
  device?: Device;
  /** Images per run. Default 1000. */
  batchSize?: number;
}

export interface Evaluation {
  accuracy: number;
  perClass: { className: string; accuracy: number }[];
  confusion: number[][];
  text: string;
  files: string[];
}

/** Test-set accuracy, per-class accuracy and the confusion matrix (text and PNG) of a trained run. */
export async function evaluateRun(s: EvaluateSettings): Promise<Evaluation> {
  if (!existsSync(runFile(s.run, 'config'))) throw new Error(`'${s.run}' is not a training run (no config.json there): give a folder written by npm run train`);
  const cfg = await readJson<{ dataset: string; classNames: string[]; classes?: number[] | null; limit: number | null }>(runFile(s.run, 'config'));
  if (!isDatasetName(cfg.dataset)) throw new Error(`${runFile(s.run, 'config')}: unknown dataset '${cfg.dataset}'`);
  if (!(Array.isArray(cfg.classNames) && cfg.classNames.length >= 2)) throw new Error(`${runFile(s.run, 'config')}: "classNames" must list the run's classes: the file is damaged; train the run again`);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(runFile(s.run, 'model'));
  } catch {
    const how = existsSync(runFile(s.run, 'last'))
      ? `continue it with npm run train -- --resume ${s.run}`
      : `it stopped before its first epoch ended: start it again with the same train command and --out ${s.run}`;
    throw new Error(`${runFile(s.run, 'model')} is missing: the run has not finished; ${how}`);
  }
  const info = DATASETS[cfg.dataset];
  const { test: all } = await info.load({ dataDir: s.dataDir });
  // A run trained on a class subset (--classes) is tested on that subset, relabelled as in training.
  const raw = cfg.classes ? selectClasses(all, cfg.classes) : all;
  const test = normalizeSplit(raw, info.normalization);
  const { provider } = await checkDevice(s.device ?? 'cpu');
  const session = await createSession(bytes, { device: provider }).catch((e: Error) => {
    throw new Error(`${runFile(s.run, 'model')} failed to load in onnxruntime (${e.message.split('\n')[0].slice(0, 120)}): the file is damaged; resume or retrain the run to write it again`);
  });
  const K = cfg.classNames.length;
  const predicted = new Int32Array(test.n);
  const per = test.channels * test.height * test.width;
  const B = s.batchSize ?? 1000;
  for (let i = 0; i < test.n; i += B) {
    const n = Math.min(B, test.n - i);
    const out = await session.run({ input: new ort.Tensor('float32', test.images.subarray(i * per, (i + n) * per), [n, test.channels, test.height, test.width]) });
    if (out.logits.dims[1] !== K) {
      await session.release();
      throw new Error(`${runFile(s.run, 'config')} lists ${K} classes but model.onnx has ${out.logits.dims[1]} outputs: the run folder is damaged or mixed; train it again`);
    }
    const logits = out.logits.data as Float32Array;
    for (let r = 0; r < n; r++) {
      let best = 0;
      for (let c = 1; c < K; c++) if (logits[r * K + c] > logits[r * K + best]) best = c;
      predicted[i + r] = best;
    }
  }
  await session.release();
  const cm = confusionMatrix(predicted, test.labels, K);
  const accuracy = overallAccuracy(cm);
  const perClass = perClassAccuracy(cm).map((a, i) => ({ className: cfg.classNames[i], accuracy: a }));
  const text = [
    `Test accuracy: ${(accuracy * 100).toFixed(2)}% on ${test.n} images`,
    '',
    'Per-class accuracy:',
    ...perClass.map((p) => `  ${p.className.padEnd(12)} ${(p.accuracy * 100).toFixed(2)}%`),
    '',
    formatConfusion(cm, cfg.classNames),
  ].join('\n');
  const files = [join(s.run, 'confusion.png'), join(s.run, 'confusion.txt'), join(s.run, 'evaluation.json')];
  const unlock = await lockFolder(s.run, 'evaluate');
  try {
    await writeFileAtomic(files[0], await renderConfusion(cm, cfg.classNames));
    await writeFileAtomic(files[1], text + '\n');
    await writeJsonAtomic(files[2], { accuracy, perClass, confusion: cm.counts });
  } finally {
    await unlock();
  }
  return { accuracy, perClass, confusion: cm.counts, text, files };
}
