import { join } from 'node:path';
import type { RawSplit } from '../../data/dataset.js';
import { writeSampleImages } from '../../report/samples.js';
import type { Callback } from './callback.js';

export interface WebSamplesSettings {
  /** The test images as loaded (uint8), before normalisation. */
  images: RawSplit;
  classNames: string[];
}

/** `<dir>/samples/`: one test image per class as PNG, for the web page; written when training completes. */
export function webSamples(dir: string, s: WebSamplesSettings): Callback {
  return {
    onTrainEnd: async (_ctx, h) => {
      if (h.stopped === 'interrupted') return;
      const t = s.images;
      await writeSampleImages({ dir: join(dir, 'samples'), images: t.images, labels: t.labels, shape: [t.channels, t.height, t.width], classNames: s.classNames });
    },
  };
}
