import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lightBackground, type RgbaImage } from '../../src/predict/pixels.js';

/** w x h RGBA: `bg` everywhere, `fg` in the centre half; alpha `a`. */
function image(w: number, h: number, bg: number, fg: number, a = 255): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = x >= w / 4 && x < (3 * w) / 4 && y >= h / 4 && y < (3 * h) / 4;
      data.set([inside ? fg : bg, inside ? fg : bg, inside ? fg : bg, a], (y * w + x) * 4);
    }
  }
  return { width: w, height: h, data };
}

test('lightBackground: a dark object on white is light; Fashion-MNIST-style light on black is not', () => {
  assert.equal(lightBackground(image(64, 48, 240, 20)), true);
  assert.equal(lightBackground(image(28, 28, 0, 255)), false);
  // Only the border counts: a big bright object on a dark border is still dark.
  assert.equal(lightBackground(image(40, 40, 30, 255)), false);
});

test('lightBackground: transparency composites over black (as the model input does); tiny images use their edge', () => {
  assert.equal(lightBackground(image(32, 32, 255, 0, 0)), false);
  assert.equal(lightBackground(image(32, 32, 255, 0, 200)), true);
  assert.equal(lightBackground({ width: 1, height: 1, data: Uint8Array.of(200, 200, 200, 255) }), true);
  // Grey at 128 counts as light, 127 as dark (threshold 127.5).
  assert.equal(lightBackground(image(16, 16, 128, 0)), true);
  assert.equal(lightBackground(image(16, 16, 127, 255)), false);
});
