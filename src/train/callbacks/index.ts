export type { Callback, ChunkEnd, FitContext, History, StopReason } from './callback.js';
export { checkpoints, saveRunCheckpoint, type CheckpointSettings } from './checkpoints.js';
export { earlyStopping, type EarlyStoppingSettings } from './early_stopping.js';
export { metricsFiles } from './metrics_files.js';
export { nanStop, NonFiniteLoss, type NanStopSettings } from './nan_stop.js';
export { progressBar, type ProgressBarSettings } from './progress_bar.js';
export { spinWatch, type SpinWatchSettings } from './spin_watch.js';
export { webSamples, type WebSamplesSettings } from './web_samples.js';
