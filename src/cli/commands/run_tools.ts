import type { Argv, CommandModule } from 'yargs';
import { builderOf, type ArgsOf, type CliContext } from '../context.js';
import { nonNegativeInt, optional, positiveInt, UsageError } from '../parse.js';
import { FITS } from '../../predict/pixels.js';


const evaluateOptions = (y: Argv) => y.positional('run', { type: 'string', demandOption: true }).option('data-dir', { type: 'string' });
export type EvaluateArgs = ArgsOf<typeof evaluateOptions>;

export const evaluateCommand: CommandModule<object, EvaluateArgs> = {
  command: 'evaluate <run>',
  describe: 'test accuracy, per-class accuracy and confusion matrix (text and PNG) of a trained run',
  builder: builderOf<EvaluateArgs>(evaluateOptions),
  handler: async (a) => {
    const { evaluateRun } = await import('../../train/evaluate.js');
    const r = await evaluateRun({ run: a.run, dataDir: a.dataDir });
    console.log(r.text);
    console.log(`\nWrote ${r.files.join(', ')}`);
  },
};

const predictOptions = (y: Argv) =>
  y.positional('run', { type: 'string', demandOption: true })
    .positional('images', { type: 'string', array: true, demandOption: true })
    .option('invert', { type: 'boolean', describe: 'invert dark-on-light photos (Fashion-MNIST is light on dark); --no-invert never inverts', defaultDescription: 'images with a light border' })
    .option('fit', { choices: FITS, describe: 'object: crop to the object and centre it in a square, as Fashion-MNIST was made; stretch: the whole image, stretched; crop: shorter side to the frame, centre cut out', defaultDescription: 'the run\'s recorded fit (image-folder runs), else object for grey models, stretch for colour' })
    .option('top', { type: 'string', describe: 'classes shown per image', defaultDescription: '3' })
    .option('json', { type: 'boolean', default: false, describe: 'print the full probabilities as JSON' });
export type PredictArgs = ArgsOf<typeof predictOptions>;

export const predictCommand: CommandModule<object, PredictArgs> = {
  command: 'predict <run> <images..>',
  describe: 'classify image files (any size and colour) with a trained run',
  builder: builderOf<PredictArgs>(predictOptions),
  handler: async (a) => {
    const top = optional(a.top, (v) => positiveInt('top', v)) ?? 3;
    const { predict } = await import('../../predict/predict.js');
    const preds = await predict({ run: a.run, images: a.images, invert: a.invert ?? 'auto', top, fit: a.fit });
    if (a.json) {
      console.log(JSON.stringify(preds, null, 2));
      return;
    }
    for (const p of preds) console.log(`${p.image}: ${p.top.map((t) => `${t.label} ${(t.probability * 100).toFixed(2)}%`).join(', ')}${framingNote(p)}`);
  },
};

const exportWebOptions = (y: Argv) =>
  y.positional('run', { type: 'string', demandOption: true })
    .option('out', { type: 'string', describe: 'output folder (default <run>/web)' })
    .option('trainable', { type: 'boolean', default: false, describe: 'add a Teach panel: the page fine-tunes the model on the user\'s examples (exports train_step.onnx and replay images)' })
    .option('train-all', { type: 'boolean', default: false, describe: 'with --trainable: train every layer, not only the classifier head' })
    .option('replay', { type: 'string', describe: 'with --trainable: original training images shipped for replay', defaultDescription: '300' })
    .option('data-dir', { type: 'string', describe: 'with --trainable: dataset folder of the replay images' })
    .option('new-classes', { type: 'string', describe: 'with --trainable: spare head rows the user can name as new classes in the page', defaultDescription: '4' });
export type ExportWebArgs = ArgsOf<typeof exportWebOptions>;

export const exportWebCommand: CommandModule<object, ExportWebArgs> = {
  command: 'export-web <run>',
  describe: 'write a static web page that classifies drawn or uploaded images with the run\'s model',
  builder: builderOf<ExportWebArgs>(exportWebOptions),
  handler: async (a) => {
    const replay = optional(a.replay, (v) => nonNegativeInt('replay', v));
    const newClasses = optional(a.newClasses, (v) => nonNegativeInt('new-classes', v));
    if (!a.trainable && (a.trainAll || replay !== undefined || a.dataDir !== undefined || newClasses !== undefined)) throw new UsageError('--train-all, --replay, --data-dir and --new-classes apply to a trainable page: add --trainable');
    const { exportWeb } = await import('../../web/export.js');
    const r = await exportWeb({ run: a.run, out: a.out, trainable: a.trainable ? { trainAll: a.trainAll, replay, dataDir: a.dataDir, newClasses } : undefined });
    console.log(`Wrote ${r.out}/ (${r.files.length} files, ${(r.bytes / 1e6).toFixed(1)} MB). Preview: npm run serve -- ${r.out}`);
  },
};

const serveOptions = (y: Argv) => y.positional('dir', { type: 'string', demandOption: true }).option('port', { type: 'string', describe: 'port (0: any free one)', defaultDescription: '8080' });
export type ServeArgs = ArgsOf<typeof serveOptions>;

export const serveCommand = (ctx: CliContext): CommandModule<object, ServeArgs> => ({
  command: 'serve <dir>',
  describe: 'preview a static folder on http://127.0.0.1 (this machine only)',
  builder: builderOf<ServeArgs>(serveOptions),
  handler: async (a) => {
    const port = optional(a.port, (v) => nonNegativeInt('port', v)) ?? 8080;
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${a.port}`);
    const { serve } = await import('../../web/serve.js');
    ctx.handlesStop();
    const server = await serve({ dir: a.dir, port });
    console.log(`Serving ${a.dir} at ${server.url} (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => void server.close().then(resolve), { once: true }));
  },
});

/** What predict did to an image besides resizing, for the one line per image. */
function framingNote(p: { inverted: boolean; cropped: boolean; fit: string }): string {
  const cut = p.fit === 'crop' ? 'centre-cropped' : 'cropped to the object';
  const notes = [p.inverted ? 'inverted: light background' : '', p.cropped ? cut : ''].filter(Boolean);
  return notes.length ? ` (${notes.join('; ')})` : '';
}
