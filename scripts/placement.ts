/**
 * `npm run placement -- <model> [--device webgpu|cuda|cpu] [--batch-size 64] [--out DIR] [variant options]`
 *
 * The placement report: for each training graph a provider runs, the nodes it leaves to the CPU and the
 * host/device copies per optimizer step (Memcpy nodes in the optimized graph, inside the Loop body for
 * train_loop, plus inputs fed from and outputs returned to host memory). The optimized graphs are saved
 * in DIR (default graphs/placement/<model>-<device>/).
 */
import { parseArgs } from 'node:util';
import { buildModelDef, isModelName, MODEL_NAMES } from '../src/models/registry.js';
import { defaultOptimizerSettings } from '../src/optim/index.js';
import { compileGraphSet } from '../src/program/compile.js';
import { copiesPerStep, placementReport, type GraphPlacement } from '../src/train/device/placement.js';
import { requireProvider, type Provider } from '../src/train/device/probe.js';

const PROVIDERS: Provider[] = ['webgpu', 'cuda', 'cpu'];

export function parsePlacementArgs(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { device: { type: 'string', default: 'webgpu' }, 'batch-size': { type: 'string', default: '64' }, out: { type: 'string' }, 'batch-norm': { type: 'boolean' }, dropout: { type: 'string' }, residual: { type: 'boolean' } },
  });
  const [model] = positionals;
  if (positionals.length !== 1 || !isModelName(model)) throw new Error(`give one model: ${MODEL_NAMES.join(', ')}`);
  const device = values.device as Provider;
  if (!PROVIDERS.includes(device)) throw new Error(`--device must be one of ${PROVIDERS.join(', ')}, got '${values.device}'`);
  const batch = Number(values['batch-size']);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch-size must be a positive integer, got '${values['batch-size']}'`);
  const options = { batchNorm: values['batch-norm'] ?? false, dropout: values.dropout ? Number(values.dropout) : 0, residual: values.residual ?? false };
  return { model, device, batch, options, out: values.out ?? `graphs/placement/${model}-${device}` };
}

const list = (xs: string[]) => (xs.length ? xs.join(', ') : '-');

export function formatPlacement(title: string, report: GraphPlacement[]): string {
  const lines = [title, '', '| graph | runs once per | nodes | on CPU | Memcpy to/from host | in the Loop body (per step) | fed from host / returned to host |', '|---|---|---|---|---|---|---|'];
  for (const p of report) {
    lines.push(`| ${p.graph} | ${p.runs} | ${p.nodes} | ${p.cpuNodes.length} | ${p.memcpy.toHost}/${p.memcpy.fromHost} | ${p.memcpy.loopToHost}/${p.memcpy.loopFromHost} | ${p.boundary.in.length}/${p.boundary.out.length} |`);
  }
  lines.push('');
  for (const p of report.filter((r) => r.runs !== 'batch' && (r.runs === 'step' || r.graph === 'train_loop'))) {
    const c = copiesPerStep(p);
    const back = p.runs === 'step' ? ` (returned: ${list(p.boundary.out)})` : '';
    lines.push(`Per optimizer step with ${p.graph}: ${c.toHost} device->host, ${c.fromHost} host->device copies${back}`);
  }
  for (const p of report) if (p.cpuNodes.length) lines.push(`${p.graph} on the CPU: ${p.cpuNodes.slice(0, 40).join(', ')}${p.cpuNodes.length > 40 ? ', ...' : ''}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const a = parsePlacementArgs(process.argv.slice(2));
  const probe = await requireProvider(a.device);
  const def = buildModelDef(a.model, a.options);
  const set = compileGraphSet({ def, optimizer: defaultOptimizerSettings('adam') });
  const report = await placementReport(set, a.device, a.out, a.batch);
  const adapter = probe.software ? ' (software Vulkan: SwiftShader/lavapipe)' : '';
  console.log(formatPlacement(`${a.model} on ${a.device}${adapter}, batch ${a.batch}; optimized graphs in ${a.out}/`, report));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, '/dist/'))) {
  main().catch((e: Error) => {
    console.error(`placement: ${e.message}`);
    process.exit(1);
  });
}
