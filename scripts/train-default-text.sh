#!/usr/bin/env bash
# Reproduces models/text-default: a small GPT (4 layers x 256, 4 heads, context 128, a 4096-token
# byte-level BPE learned on the corpus) trained from scratch on the King James Bible from
# Debian's bible-kjv package (public domain text), on the CPU, with aigc itself.
#
#   apt-get install -y bible-kjv && npm run build && scripts/train-default-text.sh
#
# STEPS (default 1000) sets the length of the run; OUT (default models/text-default) where the
# model goes; WORK (default tmp/text-default, git-ignored; not build/, which node-gyp rebuilds wipe) holds the corpus and the checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-1000}
OUT=${OUT:-models/text-default}
WORK=${WORK:-tmp/text-default}
command -v bible >/dev/null || { echo "needs Debian's bible-kjv: apt-get install -y bible-kjv" >&2; exit 2; }
mkdir -p "$WORK"
test -f build/Release/aigc_native.node || node scripts/build-native.mjs

# The whole Bible, one verse per line, a blank line between chapters, verse references removed.
bible -f "Gen1:1-Rev22:21" | awk '{
  match($0, /^[0-9]?[A-Za-z]+[0-9]+:/); ch = substr($0, 1, RLENGTH);
  if (NR > 1 && ch != prev) print "";
  prev = ch; sub(/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ /, ""); print }' > "$WORK/kjv-all.txt"
# Held out for validation: the last 640 lines (2 Peter 1:15 to the end of Revelation); the rest is training data.
head -n -640 "$WORK/kjv-all.txt" > "$WORK/kjv-train.txt"
tail -n 640 "$WORK/kjv-all.txt" > "$WORK/kjv-val.txt"

AIGC_BACKEND=native node bin/aigc.js text train "$WORK/kjv-train.txt" --val-data "$WORK/kjv-val.txt" --out "$WORK/run" \
  --preset small --vocab-size 4096 --steps "$STEPS" --batch-size 8 --block-size 128 \
  --lr 1e-3 --min-lr 1e-4 --warmup 50 --weight-decay 0.1 --dropout 0 --seed 1337 \
  --eval-every 100 --eval-batches 100 --sample-every 250 --sample-prompt "And God said" --checkpoint-every 100

# Validation perplexity of the final model on the whole held-out text.
node bin/aigc.js text eval --model "$WORK/run" --data "$WORK/kjv-val.txt" --json | tee "$WORK/run/eval.json"

# The model directory, without the training state.
mkdir -p "$OUT"
for f in config.json generation_config.json model.safetensors tokenizer.json tokenizer_config.json vocab.json \
         merges.txt special_tokens_map.json loss.svg train_summary.json eval.json; do
  cp "$WORK/run/$f" "$OUT/$f"
done
echo "model written to $OUT"
