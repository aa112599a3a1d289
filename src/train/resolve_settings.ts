import { DEFAULT_VAL_SIZE } from '../data/prepare.js';
import { isModelName } from '../models/registry.js';
import { recordedFit } from '../predict/run_config.js';
import { readJson } from '../util/fsx.js';
import { runFile } from './run_dir.js';
import { defaultTrainSettings, type TrainSettings } from './settings.js';

/** A run's config.json, as runConfig writes it (older runs wrote `runner` for `graphKind`). */
type SavedConfig = Record<string, unknown>;

/** Complete settings from the given ones and the defaults. */
export function resolveSettings<M extends string>(partial: Partial<TrainSettings<M>> & Pick<TrainSettings<M>, 'model'>): TrainSettings<M> {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  return { ...defaultTrainSettings(partial.model), ...defined } as TrainSettings<M>;
}

/**
 * The settings of the run in `dir`, from its config.json, for --resume. Only what may change between
 * sessions is taken from `partial`: epochs, early stopping, device, threads, spinning, data folder, output.
 */
export async function resumeSettings(dir: string, partial: Partial<TrainSettings<string>> = {}): Promise<TrainSettings<string>> {
  const cfg = await readJson<SavedConfig>(runFile(dir, 'config'));
  const model = String(cfg.model);
  const own = {
    modelFile: (cfg.modelFile as string | null) ?? undefined,
    importFolder: (cfg.importFolder as string | null) ?? undefined,
    dataFolder: (cfg.dataFolder as string | null) ?? undefined,
  };
  if (!isModelName(model) && !own.modelFile) throw new Error(`${runFile(dir, 'config')}: unknown model '${model}': the file is damaged or from another tool`);
  const base = defaultTrainSettings<string>(model);
  type S = TrainSettings<string>;
  const keep = <K extends keyof S>(k: K, saved: unknown): S[K] => (saved ?? base[k]) as S[K];
  const given = <K extends keyof S>(k: K, saved: S[K]): S[K] => partial[k] ?? saved;
  return {
    ...own,
    input: (cfg.input as [number, number, number] | null) ?? undefined,
    normalize: (cfg.normalize as S['normalize'] | null) ?? undefined,
    fit: recordedFit(cfg),
    ...base,
    ...(partial.log ? { log: partial.log } : {}),
    ...('progress' in partial ? { progress: partial.progress } : {}),
    model,
    options: keep('options', cfg.options),
    optimizer: keep('optimizer', cfg.optimizer),
    epochs: given('epochs', keep('epochs', cfg.epochs)),
    batchSize: keep('batchSize', cfg.batchSize),
    seed: keep('seed', cfg.seed),
    // Older runs recorded the default as 10000 and wrote `runner`; null (or that) means the default rule.
    valSize: cfg.valSize === null || (cfg.runner !== undefined && cfg.valSize === DEFAULT_VAL_SIZE) ? undefined : (cfg.valSize as number),
    earlyStopping: given('earlyStopping', keep('earlyStopping', cfg.earlyStopping)),
    limit: (cfg.limit as number | null) ?? undefined,
    frozen: keep('frozen', cfg.frozen),
    classes: (cfg.classes as number[] | null) ?? undefined,
    augment: (cfg.augment as TrainSettings['augment'] | null) ?? undefined,
    init: (cfg.init as string | null) ?? undefined,
    graphKind: keep('graphKind', cfg.graphKind ?? cfg.runner),
    device: given('device', keep('device', cfg.device)),
    threads: partial.threads,
    spinning: partial.spinning ?? 'auto',
    dataDir: partial.dataDir,
    download: partial.download,
    out: dir,
  };
}
