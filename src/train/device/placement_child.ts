/**
 * Run as a child by placement.ts: make a session on a provider with onnxruntime's verbose log on (it lists
 * where each node runs) and the optimized graph saved. argv: model.onnx, provider, optimized path,
 * output locations as JSON.
 */
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

const [model, provider, optimized, locations] = process.argv.slice(2);
const s = await ort.InferenceSession.create(readFileSync(model), {
  executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'],
  graphOptimizationLevel: 'all',
  optimizedModelFilePath: optimized,
  preferredOutputLocation: JSON.parse(locations),
  logSeverityLevel: 0,
});
await s.release();
