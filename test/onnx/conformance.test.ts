/** scripts/conformance.ts on a fixed subset of ONNX's node tests: one gradchecked test per op with a gradient rule. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { conformance, NODE_TESTS } from '../../scripts/conformance.js';

const GRADCHECKED = [
  'test_add', 'test_averagepool_2d_precomputed_pads', 'test_basic_conv_with_padding', 'test_batchnorm_epsilon', 'test_cast_DOUBLE_to_FLOAT',
  'test_clip', 'test_concat_1d_axis_0', 'test_constant_pad', 'test_convtranspose', 'test_div', 'test_dropout_default', 'test_exp',
  'test_expand_dim_changed', 'test_flatten_axis0', 'test_gather_0', 'test_gemm_all_attributes', 'test_globalaveragepool', 'test_identity',
  'test_layer_normalization_2d_axis0', 'test_leakyrelu', 'test_log', 'test_logsoftmax_axis_0', 'test_matmul_2d', 'test_maxpool_2d_ceil',
  'test_mul', 'test_neg', 'test_pow_bcast_array', 'test_reciprocal', 'test_reduce_mean_default_axes_keepdims_example',
  'test_reduce_sum_default_axes_keepdims_example', 'test_relu', 'test_reshape_allowzero_reordered', 'test_sce_NCd1_mean_weight_negative_ii',
  'test_sce_mean_weight_ii_4d', 'test_sigmoid', 'test_slice', 'test_softmax_axis_0', 'test_split_equal_parts_1d', 'test_sqrt', 'test_squeeze',
  'test_sub', 'test_sum_example', 'test_tanh', 'test_transpose_all_permutations_0', 'test_unsqueeze_axis_0', 'test_where_example',
];
/** Round trip only: ops without a gradient rule (or integer outputs). */
const ROUND_TRIP = ['test_argmax_negative_axis_keepdims_random_select_last_index', 'test_cumsum_2d_negative_axis', 'test_shape_end_1', 'test_reduce_max_default_axes_keepdim_example'];

test('ONNX node tests (a fixed subset): round trip through decode/encode runs in onnxruntime with the expected outputs; gradients match central differences at the tests\' inputs',
  { skip: existsSync(NODE_TESTS) ? false : `${NODE_TESTS} is missing: apt-get install libonnx-testdata`, timeout: 120_000 }, async () => {
    const { outcomes, counts } = await conformance([...GRADCHECKED, ...ROUND_TRIP, 'test_slice_neg_steps']);
    for (const o of outcomes) assert.equal(o.roundTrip, 'pass', `${o.name}: ${o.detail}`);
    for (const o of outcomes.filter((x) => GRADCHECKED.includes(x.name))) assert.equal(o.gradient, 'pass', `${o.name}: ${o.detail}`);
    for (const o of outcomes.filter((x) => ROUND_TRIP.includes(x.name))) assert.equal(o.gradient, 'none', o.name);
    // A rule that cannot differentiate a case says so, naming the attribute.
    const refused = outcomes.find((o) => o.name === 'test_slice_neg_steps')!;
    assert.equal(refused.gradient, 'refused');
    assert.match(refused.detail!, /Slice gradient .*only step 1 is supported, got -1/);
    assert.equal(Object.keys(counts.gradOps).length, 45, Object.keys(counts.gradOps).join(' '));
  });
