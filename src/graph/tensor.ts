/** Plain tensors: the data of initializers, checkpoints and session feeds. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8';
export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface Tensor {
  dtype: DType;
  dims: number[];
  data: TypedArray;
}

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11,
};

export const DTYPE_FROM_ONNX: Record<number, DType> = Object.fromEntries(
  Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k as DType]),
) as Record<number, DType>;

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4, float64: 8, int64: 8, int32: 4, bool: 1, uint8: 1,
};

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function allocate(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'int32': return new Int32Array(n);
    case 'bool': case 'uint8': return new Uint8Array(n);
  }
}

export function tensor(dtype: DType, dims: number[], values?: ArrayLike<number> | ArrayLike<bigint> | TypedArray): Tensor {
  const n = numel(dims);
  const data = allocate(dtype, n);
  if (values) {
    if (values.length !== n) throw new Error(`tensor: ${values.length} values for shape [${dims}]`);
    if (dtype === 'int64') {
      const d = data as BigInt64Array;
      for (let i = 0; i < n; i++) d[i] = BigInt(values[i] as number | bigint);
    } else {
      const d = data as Float32Array;
      for (let i = 0; i < n; i++) d[i] = Number(values[i]);
    }
  }
  return { dtype, dims: [...dims], data };
}

export const scalarF32 = (v: number): Tensor => tensor('float32', [], [v]);
export const scalarI64 = (v: number): Tensor => tensor('int64', [], [v]);
export const vecI64 = (v: number[]): Tensor => tensor('int64', [v.length], v);

/** Little-endian bytes of a tensor's data (ONNX raw_data, safetensors). */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

export function tensorFromBytes(dtype: DType, dims: number[], bytes: Uint8Array): Tensor {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const n = numel(dims);
  const b = copy.buffer;
  let data: TypedArray;
  switch (dtype) {
    case 'float32': data = new Float32Array(b, 0, n); break;
    case 'float64': data = new Float64Array(b, 0, n); break;
    case 'int64': data = new BigInt64Array(b, 0, n); break;
    case 'int32': data = new Int32Array(b, 0, n); break;
    default: data = new Uint8Array(b, 0, n);
  }
  return { dtype, dims: [...dims], data };
}
