import { emitForward, imageShape } from './forward.js';
import { GraphBuilder } from '../graph/builder.js';
import { INPUT } from '../graph/names.js';
import type { LayerRow } from '../nn/context.js';
import { formatSummary } from '../report/summary.js';
import { buildModelDef, type ModelDef, type ModelName, type ModelOptions } from './registry.js';

/** The model's leaf layers with output shapes, parameter counts and multiply-adds per sample. */
export function layerRows(model: ModelName | ModelDef, options: Partial<ModelOptions> = {}): LayerRow[] {
  const def = typeof model === 'string' ? buildModelDef(model, options) : model;
  const b = new GraphBuilder('summary');
  const { ctx } = emitForward(b, def, 'eval', b.input(INPUT, 'float32', imageShape(def, 1)));
  return ctx.rows;
}

/** A seed model by name and options, or any model definition (an imported one). */
export function modelSummary(model: ModelName | ModelDef, options: Partial<ModelOptions> = {}): string {
  const title = typeof model === 'string' ? model : model.name;
  return formatSummary(layerRows(model, options).map((r) => ({ ...r, outputShape: r.outputShape.map((d, i) => (i === 0 ? -1 : Number(d))) })), title);
}
