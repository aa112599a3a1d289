/**
 * The backward sums of a 2-D convolution in float64, straight from the definition, for checking the
 * gradient rules: with R = dL/dY and h = ho s - p + i, w = wo s - p + j (0 outside X),
 *   dX[n,c,h,w] = sum_{m,i,j} R[n,m,ho,wo] W[m,c,i,j],   dW[m,c,i,j] = sum_{n,ho,wo} R[n,m,ho,wo] X[n,c,h,w].
 * `w` may be null when only dW is wanted.
 */
export function convBackwardReference(x: number[], w: number[] | null, r: number[], [N, C, H, W]: number[], [M, , K]: number[], s: number, p: number) {
  const Ho = Math.floor((H + 2 * p - K) / s) + 1;
  const Wo = Math.floor((W + 2 * p - K) / s) + 1;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(M * C * K * K);
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let ho = 0; ho < Ho; ho++) for (let wo = 0; wo < Wo; wo++) {
    const g = r[((n * M + m) * Ho + ho) * Wo + wo];
    for (let c = 0; c < C; c++) for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) {
      const h = ho * s - p + i;
      const v = wo * s - p + j;
      if (h < 0 || v < 0 || h >= H || v >= W) continue;
      const xi = ((n * C + c) * H + h) * W + v;
      const wi = ((m * C + c) * K + i) * K + j;
      if (w) dx[xi] += g * w[wi];
      dw[wi] += g * x[xi];
    }
  }
  return { dx, dw };
}
