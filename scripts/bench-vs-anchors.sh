#!/usr/bin/env bash
# Runs each `aigc bench` suite and its PyTorch anchor (../shared/anchors) back to back and
# prints all JSON lines, ours then theirs, so README's tables are ratios from one session.
# Needs Debian's PyTorch (see ../shared/anchors/README.md) and a built package (npm ci).
# Usage: scripts/bench-vs-anchors.sh [kernels|generate|train|gan ...]   (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."
anchors=${AIGC_ANCHORS:-../shared/anchors}
py() { OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$@"; }
aigc() { node bin/aigc.js "$@"; }
suites=${*:-kernels generate train gan}
for s in $suites; do
  echo "# $s $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
  case $s in
    kernels)
      aigc bench kernels --json
      py "$anchors/kernels_bench.py" ;;
    generate)
      aigc bench generate --json
      for m in prefill16 prefill512; do py "$anchors/gpt2_infer_bench.py" $m fp32; done
      py "$anchors/gpt2_infer_bench.py" decode1 fp32
      py "$anchors/gpt2_infer_bench.py" decode1 bf16
      py "$anchors/gpt2_infer_bench.py" decode8 fp32 ;;
    train)
      aigc bench train --json
      py "$anchors/gpt2_train_bench.py" --batch 4 --block 64
      py "$anchors/gpt2_train_bench.py" --layers 4 --heads 4 --embd 256 --batch 8 --block 128 ;;
    gan)
      aigc bench gan --json
      py "$anchors/dcgan_train_bench.py" 16 6 | tail -1
      py "$anchors/dcgan_train_bench.py" 64 6 | tail -1 ;;
    *) echo "unknown suite $s" >&2; exit 2 ;;
  esac
done
