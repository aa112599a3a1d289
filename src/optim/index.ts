export { DEFAULT_LR, defaultOptimizerSettings, validateOptimizerSettings, stateSlots, OPTIMIZER_KINDS } from './settings.js';
export { buildOptimizerStep, type OptimizerStepOptions } from './step.js';
export { buildOptimizerGraph, type OptimizedParam } from './graph.js';
export type { OptimizerInputs, OptimizerKind, OptimizerOutputs, OptimizerSettings } from './types.js';
