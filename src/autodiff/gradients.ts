import type { GraphBuilder } from '../graph/builder.js';
import type { Node } from '../graph/ir.js';
import * as names from '../graph/names.js';
import { ruleFor } from '../ops/index.js';
import type { GradTarget } from '../ops/types.js';

export interface GradientOptions {
  /** Name each gradient; default names.grad(param). */
  gradName?: (param: string) => string;
  /** Where the graph will run (ops/types.ts); default 'portable'. */
  target?: GradTarget;
}

/** An op on the path from the parameters to the loss has no gradient rule: names the op and the node. */
export class MissingGradientError extends Error {
  readonly opType: string;
  constructor(n: Node, needed: string) {
    super(`autodiff: no gradient rule for op '${n.opType}' (node '${n.name}'), needed for ${needed}`);
    this.opType = n.opType;
  }
}

/**
 * Reverse-mode differentiation over the builder's graph: appends the nodes that compute d`loss`/d`wrt`
 * and returns the gradient value of each wrt, in order. Only values on a path from a wrt to the loss
 * get gradients; where a value feeds several consumers, their contributions are summed.
 */
export function buildGradients(b: GraphBuilder, loss: string, wrt: string[], opts: GradientOptions = {}): string[] {
  const g = b.graph;
  const forward = [...g.nodes];
  const gradName = opts.gradName ?? names.grad;
  const target = opts.target ?? 'portable';

  // Values that depend on some wrt ...
  const fromWrt = new Set(wrt);
  for (const n of forward) if (n.inputs.some((i) => fromWrt.has(i))) n.outputs.forEach((o) => o && fromWrt.add(o));
  // ... and that the loss depends on.
  const toLoss = new Set([loss]);
  for (let k = forward.length - 1; k >= 0; k--) {
    const n = forward[k];
    if (n.outputs.some((o) => toLoss.has(o))) n.inputs.forEach((i) => i && toLoss.add(i));
  }
  const readers = new Map<string, Node[]>();
  for (const n of forward) {
    for (const i of new Set(n.inputs)) {
      if (!i) continue;
      const list = readers.get(i);
      if (list) list.push(n);
      else readers.set(i, [n]);
    }
  }
  const consumers = (v: string): readonly Node[] => readers.get(v) ?? [];
  const writers = new Map(forward.flatMap((n) => n.outputs.filter(Boolean).map((o) => [o, n] as const)));
  const producer = (v: string) => writers.get(v);
  const positiveMasked = new Set<string>();
  const active = (v: string) => v !== '' && fromWrt.has(v) && toLoss.has(v);
  for (const p of wrt) if (!toLoss.has(p)) throw new Error(`autodiff: '${loss}' does not depend on '${p}'`);

  const contributions = new Map<string, string[]>();
  const add = (v: string, d: string) => {
    const list = contributions.get(v);
    if (list) list.push(d);
    else contributions.set(v, [d]);
  };
  const total = (v: string, name?: string): string | null => {
    const list = contributions.get(v);
    if (!list) return null;
    if (list.length === 1 && !name) return list[0];
    if (list.length === 1) {
      // Rename the producing node's output rather than copy it (an Identity costs a real copy in ORT).
      const shared = [...contributions].some(([k, l]) => k !== v && l.includes(list[0]));
      if (!shared && b.rename(list[0], name!)) return name!;
      return b.op1('Identity', list, {}, { outputs: [name!] });
    }
    const s = b.op1('Sum', list, {}, name ? { outputs: [name] } : {});
    contributions.set(v, [s]);
    return s;
  };

  b.scope('grad', () => {
    add(loss, b.constant(1, b.dtype(loss)));
    for (let k = forward.length - 1; k >= 0; k--) {
      const n: Node = forward[k];
      const needs = n.inputs.map(active);
      if (!needs.some(Boolean)) continue;
      const dOut = n.outputs.map((o) => (o && active(o) ? total(o) : null));
      if (!dOut.some((d) => d !== null)) continue;
      const custom = b.customGradients.get(n);
      if (custom) {
        const wants = custom.inputs.map(active);
        const dIn = b.scope('composite', () => custom.grad({ b, needs: wants, target, consumers, producer, positiveMasked }, dOut[0]!));
        dIn.forEach((d, i) => {
          if (d && wants[i]) {
            b.refine(d, b.info(custom.inputs[i]).shape);
            add(custom.inputs[i], d);
          }
        });
        continue;
      }
      const rule = ruleFor(n.opType);
      if (!rule?.grad) {
        const which = n.inputs.filter((_, i) => needs[i]).join(', ');
        throw new MissingGradientError(n, which);
      }
      const dIn = b.scope(n.opType, () => rule.grad!({ b, needs, target, consumers, producer, positiveMasked }, n, dOut));
      dIn.forEach((d, i) => {
        if (d && needs[i]) {
          // A gradient has its value's shape, whatever the rule's ops let the builder infer.
          b.refine(d, b.info(n.inputs[i]).shape);
          add(n.inputs[i], d);
        }
      });
    }
  });
  return wrt.map((p) => {
    const d = total(p, gradName(p));
    if (!d) throw new Error(`autodiff: no gradient reached '${p}'`);
    return d;
  });
}
