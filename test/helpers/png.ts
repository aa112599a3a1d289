import assert from 'node:assert/strict';
import sharp from 'sharp';

/** Assert `png` is a PNG of the given size that is not blank; returns its raw RGB pixels. */
export async function assertPng(png: Buffer, width: number, height: number): Promise<{ data: Buffer; channels: number }> {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, width);
  assert.equal(meta.height, height);
  const stats = await sharp(png).stats();
  for (const c of stats.channels.slice(0, 3)) assert.ok(c.stdev > 5, `channel stdev ${c.stdev} too low: the image looks blank`);
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, channels: info.channels };
}

/** How many pixels are within `tol` of the colour `hex` (e.g. '#1f77b4') in each channel. */
export function countColor(raw: { data: Buffer; channels: number }, hex: string, tol = 12): number {
  const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let i = 0; i < raw.data.length; i += raw.channels) {
    if (Math.abs(raw.data[i] - rgb[0]) <= tol && Math.abs(raw.data[i + 1] - rgb[1]) <= tol && Math.abs(raw.data[i + 2] - rgb[2]) <= tol) n++;
  }
  return n;
}
