/**
 * Every name that crosses an artifact boundary comes from here, so two builds give identical bytes and
 * the trainer, the optimizer graphs and checkpoints agree without passing strings around.
 */
export const INPUT = 'input';
export const LABELS = 'labels';
export const LOSS = 'loss';
export const LOGITS = 'logits';
export const PROBABILITIES = 'probabilities';
export const LEARNING_RATE = 'learning_rate';
/** Optimizer step count before this update (PyTorch's `state['step']` after the update is step + 1). */
export const STEP = 'step';
/** Number of correct predictions in the batch (int64 scalar), an output of training graphs. */
export const CORRECT = 'correct';

/** Multi-step (Loop) graph interface. */
export const DATA_IMAGES = 'images';
export const DATA_LABELS = 'all_labels';
export const BATCH_INDICES = 'batch_indices';
export const STEP_LOSSES = 'losses';
export const STEP_CORRECT = 'corrects';

export const grad = (param: string): string => `${param}.grad`;
/** Optimizer state slots use PyTorch's names: exp_avg, exp_avg_sq, momentum_buffer, square_avg, grad_avg. */
export const state = (param: string, slot: string): string => `${param}.${slot}`;
/** A value's updated version as a graph output (parameter, optimizer state, running statistic). */
export const updated = (name: string): string => `${name}.new`;
/** A per-step random input (for example a Dropout mask) named after its layer. */
export const noise = (layer: string): string => `${layer}.noise`;
/** Key of an optimizer state tensor in a checkpoint, kept apart from the model's state_dict keys. */
export const OPTIMIZER_PREFIX = 'optimizer.';
export const checkpointStateKey = (stateName: string): string => `${OPTIMIZER_PREFIX}${stateName}`;

/** Inside train_loop's Loop body: the iteration number, the condition, and the loop-carried copies of values. */
export const LOOP_ITER = 'loop.iter';
export const LOOP_COND = 'loop.cond';
export const LOOP_COND_OUT = 'loop.cond.out';
export const loopCarried = (name: string): string => `loop.${name}`;
/** A body output: the next iteration's value of a loop-carried value. */
export const bodyOut = (name: string): string => `${name}.out`;
