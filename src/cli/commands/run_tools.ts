import type { Argv } from 'yargs';


export const evaluateCommand = {
  command: 'evaluate <run>',
  describe: 'test accuracy, per-class accuracy and confusion matrix (text and PNG) of a trained run',
  builder: (y: Argv) => y.positional('run', { type: 'string', demandOption: true }).option('data-dir', { type: 'string' }),
  handler: async (a: Record<string, unknown>) => {
    const { evaluateRun } = await import('../../train/evaluate.js');
    const r = await evaluateRun({ run: a.run as string, dataDir: a.dataDir as string | undefined });
    console.log(r.text);
    console.log(`\nWrote ${r.files.join(', ')}`);
  },
};

export const predictCommand = {
  command: 'predict <run> <images..>',
  describe: 'classify image files (any size and colour) with a trained run',
  builder: (y: Argv) =>
    y.positional('run', { type: 'string', demandOption: true })
      .positional('images', { type: 'string', array: true, demandOption: true })
      .option('invert', { type: 'boolean', default: false, describe: 'invert dark-on-light photos (Fashion-MNIST is light on dark)' })
      .option('top', { type: 'number', default: 3 })
      .option('json', { type: 'boolean', default: false, describe: 'print the full probabilities as JSON' }),
  handler: async (a: Record<string, unknown>) => {
    const { predict } = await import('../../predict/predict.js');
    const preds = await predict({ run: a.run as string, images: a.images as string[], invert: a.invert as boolean, top: a.top as number });
    if (a.json) {
      console.log(JSON.stringify(preds, null, 2));
      return;
    }
    for (const p of preds) {
      console.log(`${p.image}: ${p.top.map((t) => `${t.label} ${(t.probability * 100).toFixed(2)}%`).join(', ')}`);
    }
  },
};

export const exportWebCommand = {
  command: 'export-web <run>',
  describe: 'write a static web page that classifies drawn or uploaded images with the run\'s model',
  builder: (y: Argv) => y.positional('run', { type: 'string', demandOption: true }).option('out', { type: 'string', describe: 'output folder (default <run>/web)' }),
  handler: async (a: Record<string, unknown>) => {
    const { exportWeb } = await import('../../web/export.js');
    const r = await exportWeb({ run: a.run as string, out: a.out as string | undefined });
    console.log(`Wrote ${r.out}/ (${r.files.length} files, ${(r.bytes / 1e6).toFixed(1)} MB). Preview: npm run serve -- ${r.out}`);
  },
};

export const serveCommand = {
  command: 'serve <dir>',
  describe: 'preview a static folder on http://127.0.0.1 (this machine only)',
  builder: (y: Argv) => y.positional('dir', { type: 'string', demandOption: true }).option('port', { type: 'number', default: 8080 }),
  handler: async (a: Record<string, unknown>) => {
    const { serve } = await import('../../web/serve.js');
    const server = await serve({ dir: a.dir as string, port: a.port as number });
    console.log(`Serving ${a.dir} at ${server.url} (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => void server.close().then(resolve)));
  },
};
