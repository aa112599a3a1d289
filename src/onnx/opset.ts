/** The one ai.onnx opset every emitted graph targets (runs on every maintained ONNX Runtime, web included). */
export const OPSET = 17;
/** IR version that goes with opset 17. */
export const IR_VERSION = 8;
export const PRODUCER = 'onnxtrain';
