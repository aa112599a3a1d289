/**
 * The layers as functions, named as in torch.nn: `nn.sequential([nn.conv2d(1, 16, 3), nn.relu(), ...])`.
 * Parameters take PyTorch's state_dict names from their place in the tree (`0.weight`, `features.3.bias`).
 */
import { Activation } from './activation.js';
import { BatchNorm2d } from './batchnorm.js';
import { Conv2d, type Conv2dSettings } from './conv.js';
import { Dropout } from './dropout.js';
import { Flatten } from './flatten.js';
import { Linear } from './linear.js';
import type { Module } from './module.js';
import { Pool2d } from './pool.js';
import { Residual } from './residual.js';
import { Sequential } from './sequential.js';

/** Children named 0, 1, 2, ..., or [name, layer] pairs. */
export const sequential = (children: Module[] | [string, Module][]): Module => new Sequential(children);
export const linear = (inFeatures: number, outFeatures: number): Module => new Linear(inFeatures, outFeatures);
/** Square kernel; unlike torch.nn.Conv2d the padding defaults to "same" ((kernel - 1) / 2), stride 1. */
export const conv2d = (inChannels: number, outChannels: number, kernel: number, s: Omit<Conv2dSettings, 'inChannels' | 'outChannels' | 'kernel'> = {}): Module =>
  new Conv2d({ inChannels, outChannels, kernel, ...s });
export const relu = (): Module => new Activation('relu');
export const sigmoid = (): Module => new Activation('sigmoid');
export const tanh = (): Module => new Activation('tanh');
/** Default negative slope 0.01, as torch.nn.LeakyReLU. */
export const leakyRelu = (negativeSlope = 0.01): Module => new Activation('leaky-relu', negativeSlope);
/** Stride defaults to the kernel size, as in PyTorch. */
export const maxPool2d = (kernel: number, stride = kernel): Module => new Pool2d('max', kernel, stride);
export const avgPool2d = (kernel: number, stride = kernel): Module => new Pool2d('avg', kernel, stride);
export const flatten = (): Module => new Flatten();
/** Drops with probability p while training (inverted dropout); the identity in eval graphs. */
export const dropout = (p: number): Module => new Dropout(p);
/** eps 1e-5, momentum 0.1, as torch.nn.BatchNorm2d. */
export const batchNorm2d = (channels: number, eps = 1e-5, momentum = 0.1): Module => new BatchNorm2d(channels, eps, momentum);
/** y = after(body(x) + shortcut(x)); the shortcut defaults to the identity. */
export const residual = (body: Module, shortcut?: Module, after?: Module): Module => new Residual(body, shortcut, after);
