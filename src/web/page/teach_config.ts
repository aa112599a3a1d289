/**
 * train/teach.json of a trainable page: what the page's trainer needs to run the run's own train_step
 * graph. Written by src/web/trainable.ts from the graph set's manifest; pure, so the page and Node tests
 * read it with the same code.
 */
export interface TeachValue {
  name: string;
  dtype: string;
  shape: (number | string)[] | null;
}

/** One state_dict entry and where its float32 bytes lie in model.onnx (raw_data of its initializer). */
export interface TeachParameter {
  name: string;
  shape: number[];
  role: 'trainable' | 'frozen' | 'buffer';
  offset: number;
  bytes: number;
}

export interface TeachConfig {
  format: 'onnxtrain-teach/1';
  /** Model name, written into the downloaded checkpoint's metadata. */
  model: string;
  /** The train_step graph, relative to the page, and its size. */
  graph: string;
  graphBytes: number;
  /** train_step's inputs and outputs in order (the manifest's contract). */
  contract: { inputs: TeachValue[]; outputs: TeachValue[] };
  /** Every parameter and buffer in state_dict order. */
  parameters: TeachParameter[];
  /** Optimizer state in contract order (the manifest's optimizerState). */
  optimizerState: { name: string; param: string; slot: string; shape: number[] }[];
  optimizer: { name: string; lr: number } & Record<string, unknown>;
  learningRate: number;
  batchSize: number;
  /** Seeds the order of batches; the same examples, seed and steps give the same batches. */
  seed: number;
  /** Original training images: count * C*H*W uint8 pixels, then count uint8 labels. */
  replay: { file: string; count: number; shape: [number, number, number] };
  /**
   * New classes: the head tensors (`head`, in state_dict order, class dimension first) have `count + spare`
   * rows; rows from `count` on are spare until the user names a class, each with weights 0 and bias
   * `spareBias` (its probability is exactly 0 and training leaves it alone). Activating row r writes
   * PyTorch's nn.Linear init into it, U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weights and bias alike, and
   * zeroes its optimizer state; active rows are always a prefix, so a download keeps rows [0, active).
   */
  classes: { count: number; spare: number; spareBias: number; head: string[]; fanIn: number };
}

export function parseTeachConfig(value: unknown, source: string): TeachConfig {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}; re-run export-web --trainable`);
  };
  if (typeof value !== 'object' || value === null) return fail('is not a JSON object');
  const v = value as TeachConfig;
  if (v.format !== 'onnxtrain-teach/1') fail(`"format" is ${JSON.stringify(v.format)}, expected "onnxtrain-teach/1"`);
  if (typeof v.graph !== 'string') fail('"graph" must name the train_step graph');
  if (!Array.isArray(v.contract?.inputs) || !Array.isArray(v.contract?.outputs)) fail('"contract" must list the graph\'s inputs and outputs');
  if (!Array.isArray(v.parameters) || !v.parameters.every((p) => typeof p.name === 'string' && Number.isInteger(p.offset) && Number.isInteger(p.bytes))) {
    fail('"parameters" must list each parameter with its offset and bytes in model.onnx');
  }
  if (!Array.isArray(v.optimizerState)) fail('"optimizerState" must list the optimizer state');
  if (!(v.learningRate > 0) || !(Number.isInteger(v.batchSize) && v.batchSize > 0)) fail('"learningRate" and "batchSize" must be positive');
  const c = v.classes;
  if (!(Number.isInteger(c?.count) && Number.isInteger(c.spare) && c.spare >= 0 && Array.isArray(c.head) && c.fanIn > 0)) fail('"classes" must give the class count, the spare head rows, the head tensors and their fan-in');
  if (!(Number.isInteger(v.replay?.count) && v.replay.count >= 0 && typeof v.replay.file === 'string')) fail('"replay" must give the replay file and its image count');
  return v;
}
