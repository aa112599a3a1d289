import { defaultOptimizerSettings } from '../optim/index.js';
import { readJson } from '../util/fsx.js';
import { defaultEpochs, type TrainSettings } from './settings.js';
import { Interrupted, train, type TrainResult } from './trainer.js';
import { runFile } from './run_dir.js';

/** Complete settings from the CLI's, or from a run's config.json when resuming (then only --epochs may change). */
export async function resolveSettings(partial: Partial<TrainSettings>, resume?: string): Promise<TrainSettings> {
  if (resume) {
    const cfg = await readJson<Record<string, unknown>>(runFile(resume, 'config'));
    return {
      ...baseSettings(cfg.model as TrainSettings['model']),
      model: cfg.model as TrainSettings['model'],
      options: cfg.options as TrainSettings['options'],
      optimizer: cfg.optimizer as TrainSettings['optimizer'],
      epochs: partial.epochs ?? (cfg.epochs as number),
      batchSize: cfg.batchSize as number,
      seed: cfg.seed as number,
      valSize: cfg.valSize as number,
      earlyStopping: cfg.earlyStopping as number,
      limit: (cfg.limit as number | null) ?? undefined,
      frozen: (cfg.frozen as string[]) ?? [],
      classes: (cfg.classes as number[] | null) ?? undefined,
      augment: (cfg.augment as TrainSettings['augment'] | null) ?? undefined,
      init: (cfg.init as string | null) ?? undefined,
      runner: cfg.runner as TrainSettings['runner'],
      device: partial.device ?? (cfg.device as TrainSettings['device']),
      threads: partial.threads,
      spinning: partial.spinning ?? 'auto',
      dataDir: partial.dataDir,
      download: partial.download,
      out: resume,
    };
  }
  const model = partial.model!;
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  return { ...baseSettings(model), ...defined } as TrainSettings;
}

export function baseSettings(model: TrainSettings['model']): TrainSettings {
  return {
    model,
    options: {},
    optimizer: defaultOptimizerSettings('adam'),
    epochs: defaultEpochs(model),
    batchSize: 64,
    seed: 0,
    valSize: 10000,
    earlyStopping: 0,
    device: 'cpu',
    spinning: 'auto',
    runner: 'loop',
    chunkSteps: 100,
    evalBatchSize: 1000,
    frozen: [],
    log: (line) => console.log(line),
  };
}

/** The `train` command: run, and turn a Ctrl-C stop into exit code 130 after saving. */
export async function trainFromSettings(partial: Partial<TrainSettings>, resume?: string): Promise<TrainResult | undefined> {
  const s = await resolveSettings(partial, resume);
  try {
    return await train(s, resume ? { dir: resume } : undefined);
  } catch (e) {
    if (e instanceof Interrupted) {
      console.error(e.message);
      process.exit(130);
    }
    throw e;
  }
}
