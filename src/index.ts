/**
 * onnxtrain's public API. Data flows: builders (nn) -> graph IR -> autodiff -> compile (the graph set) ->
 * sessions -> fit (with callbacks) -> reports / artifacts / the web page.
 *
 *   const model = nn.sequential([nn.conv2d(1, 16, 3), nn.relu(), nn.maxPool2d(2), nn.flatten(), nn.linear(16 * 14 * 14, 10)]);
 *   const program = await compile(model, { input: [1, 28, 28], optimizer: { kind: 'adam', lr: 1e-3 } });
 *   const data = await datasets.fashionMnist();
 *   const history = await fit(program, data.train, { epochs: 5, validation: data.val, callbacks: [callbacks.progressBar()] });
 *   await program.exportEval('model.onnx');
 */
export * as nn from './nn/index.js';
export * as callbacks from './train/callbacks/index.js';
export * as datasets from './datasets.js';

// Models: the six seed architectures, and models of your own.
export { buildModelDef, defineModel, DEFAULT_MODEL_OPTIONS, MODEL_NAMES, type ModelDef, type ModelInput, type ModelName, type ModelOptions } from './models/registry.js';
export { modelSummary } from './models/summary.js';

// Compile, fit, evaluate, predict.
export { compile, Program, type CompileOptions } from './train/program.js';
export { fit, type FitOptions } from './train/fit.js';
export type { FitState, EpochPosition } from './train/fit_state.js';
export type { Callback, ChunkEnd, FitContext, History, StopReason } from './train/callbacks/index.js';
export type { Device } from './train/session.js';
export type { GraphKind } from './train/sessions.js';
export type { EpochMetrics } from './report/metrics.js';
export { evaluateRun, type EvaluateSettings, type Evaluation } from './train/evaluate.js';
export { predict, type PredictSettings } from './predict/predict.js';

// The graph set and its files.
export { compileGraphSet, GRAPH_NAMES, type GraphName, type GraphSet } from './program/compile.js';
export { signature, stateSpecs, zeroState, type GraphSettings, type ModelSignature } from './program/signature.js';
export { TRAINING_DEFAULTS } from './program/defaults.js';
export { buildArtifacts, writeGraphSet, type BuildSettings } from './artifacts/build.js';
export { loadCheckpoint, saveCheckpoint, type Checkpoint } from './artifacts/checkpoint.js';
export { importModelFolder, defaultImportDir, type ImportFolderSettings } from './artifacts/import_folder.js';
export { readImportFolder, IMPORT_FORMAT, type ImportRecord, type ImportFolderRun } from './artifacts/import_record.js';
export { encodeModel, decodeModel } from './onnx/model.js';
export { defaultOptimizerSettings, OPTIMIZER_KINDS, type OptimizerKind, type OptimizerSettings } from './optim/index.js';
export type { Tensor } from './graph/tensor.js';

// Training runs as the CLI makes them (a run folder), and the web page.
export { train, Interrupted, type TrainResult } from './train/run.js';
export { resolveSettings, resumeSettings } from './train/resolve_settings.js';
export type { TrainSettings } from './train/settings.js';
export { exportWeb } from './web/export.js';

// Models and images of your own: an ONNX classifier as a ModelDef, an image folder as a prepared dataset.
export { importOnnx, formatImportReport, IMAGENET_NORMALIZATION, type ImportedModel, type ImportReport, type ImportSettings } from './import/index.js';
export { prepareImageFolder, type ImageFolderSettings } from './data/image_folder.js';
