/**
 * Run as a child process by probe.ts: start one execution provider on a one-node graph, run it, and print
 * one JSON line. A provider's drivers log to the process's stderr (Dawn, Vulkan, CUDA), and some abort the
 * process: in a child, neither reaches the user.
 */
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../graph/builder.js';
import { encodeModel } from '../../onnx/model.js';

const provider = process.argv[2];
ort.env.logLevel = 'fatal';
const b = new GraphBuilder('probe');
b.output(b.op1('Relu', [b.input('x', 'float32', [2])], {}, { outputs: ['y'] }));
try {
  const s = await ort.InferenceSession.create(encodeModel(b.graph), { executionProviders: [provider], logSeverityLevel: 4 });
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 2), [2]) });
  const y = Array.from(out.y.data as Float32Array);
  await s.release();
  console.log(JSON.stringify(y[0] === 0 && y[1] === 2 ? { ok: true } : { ok: false, error: `a test run gave [${y}] instead of [0, 2]` }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: (e as Error).message }));
}
