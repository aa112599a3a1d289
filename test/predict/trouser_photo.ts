import sharp from 'sharp';
import { seeded } from '../helpers/seeded.js';

/** Where trouserPhoto draws the trousers: x, y, width, height in its 300 x 400 image. */
export const TROUSER_BOX = { x: 170, y: 150, width: 80, height: 220 };

/**
 * A photo of dark trousers on a light, slightly noisy table, off-centre (right and low): waistband and two
 * legs, 80 x 220 px in a 300 x 400 image. PNG, so Node and the browser decode the same pixels.
 */
export async function trouserPhoto(file: string): Promise<string> {
  const [w, h] = [300, 400];
  const rand = seeded(13);
  const { x, y, width, height } = TROUSER_BOX;
  const px = Buffer.alloc(w * h * 3);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const waist = r >= y && r < y + 25 && c >= x && c < x + width;
      const leg = r >= y + 25 && r < y + height && ((c >= x && c < x + 35) || (c >= x + 45 && c < x + width));
      const v = waist || leg ? 40 + Math.floor(rand() * 12) : 228 + Math.floor(rand() * 14);
      for (let k = 0; k < 3; k++) px[(r * w + c) * 3 + k] = Math.min(255, v + k * 3);
    }
  }
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
  return file;
}
