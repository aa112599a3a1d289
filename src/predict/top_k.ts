/** The k most probable classes. Pure, shared by Node's predict and the web page. */
export interface TopClass {
  index: number;
  label: string;
  probability: number;
}

/** Highest probability first; equal probabilities keep class order. */
export function topK(probabilities: ArrayLike<number>, k: number, classNames: readonly string[]): TopClass[] {
  const order = Array.from({ length: probabilities.length }, (_, i) => i);
  order.sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return order.slice(0, Math.max(0, k)).map((index) => ({
    index,
    label: classNames[index] ?? `class ${index}`,
    probability: probabilities[index],
  }));
}
