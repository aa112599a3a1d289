import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultOptimizerSettings, stateSlots, type OptimizerKind } from '../../src/optim/index.js';

test('defaults follow torch.optim for each kind', () => {
  const adam = defaultOptimizerSettings('adam');
  assert.deepEqual(adam, {
    kind: 'adam', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0,
    momentum: 0, nesterov: false, dampening: 0, alpha: 0.99, centered: false,
  });
  assert.equal(defaultOptimizerSettings('adamw').weightDecay, 0.01);
  assert.equal(defaultOptimizerSettings('rmsprop').lr, 1e-2);
  assert.equal(defaultOptimizerSettings('sgd').momentum, 0);
});

test('overrides replace defaults; undefined overrides keep them; betas are copied', () => {
  const betas: [number, number] = [0.5, 0.6];
  const s = defaultOptimizerSettings('sgd', { momentum: 0.9, nesterov: true, lr: undefined, betas });
  assert.equal(s.momentum, 0.9);
  assert.equal(s.nesterov, true);
  assert.equal(s.lr, 1e-3);
  betas[0] = 0.1;
  assert.deepEqual(s.betas, [0.5, 0.6]);
  assert.equal(defaultOptimizerSettings('adamw', { weightDecay: 0 }).weightDecay, 0);
});

test('invalid settings fail with the setting named', () => {
  assert.throws(() => defaultOptimizerSettings('adagrad' as OptimizerKind), /unknown optimizer 'adagrad': use one of adam, adamw, sgd, rmsprop/);
  assert.throws(() => defaultOptimizerSettings('adam', { lr: -1 }), /lr = -1: use a finite number >= 0/);
  assert.throws(() => defaultOptimizerSettings('adam', { eps: Number.NaN }), /eps = NaN/);
  assert.throws(() => defaultOptimizerSettings('adam', { betas: [1, 0.9] }), /betas\[0\] = 1/);
  assert.throws(() => defaultOptimizerSettings('sgd', { nesterov: true }), /nesterov needs momentum > 0 and dampening 0/);
  assert.throws(() => defaultOptimizerSettings('sgd', { nesterov: true, momentum: 0.9, dampening: 0.1 }), /nesterov needs/);
  assert.throws(() => defaultOptimizerSettings('rmsprop', { momentum: -0.5 }), /momentum = -0.5/);
  assert.throws(() => defaultOptimizerSettings('adam', { weight_decay: 0.1 } as never), /unknown optimizer setting 'weight_decay': use one of lr, betas/);
});

test('state slots use PyTorch names in PyTorch order', () => {
  assert.deepEqual(stateSlots(defaultOptimizerSettings('adam')), ['exp_avg', 'exp_avg_sq']);
  assert.deepEqual(stateSlots(defaultOptimizerSettings('adamw')), ['exp_avg', 'exp_avg_sq']);
  assert.deepEqual(stateSlots(defaultOptimizerSettings('sgd')), []);
  assert.deepEqual(stateSlots(defaultOptimizerSettings('sgd', { momentum: 0.9 })), ['momentum_buffer']);
  assert.deepEqual(stateSlots(defaultOptimizerSettings('rmsprop')), ['square_avg']);
  assert.deepEqual(stateSlots(defaultOptimizerSettings('rmsprop', { momentum: 0.9, centered: true })), ['square_avg', 'momentum_buffer', 'grad_avg']);
  assert.deepEqual(stateSlots(defaultOptimizerSettings('rmsprop', { centered: true })), ['square_avg', 'grad_avg']);
});
