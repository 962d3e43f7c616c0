#!/usr/bin/env bash
# GPU checks, for a CUDA machine with seqkit's dependencies importable:
#   1. encoder speed at equal width: cuDNN BiLSTM / BiGRU against the parallel-scan minGRU,
#      with and without frame stacking, fp32 and bf16-mixed (tools/bench_encoders.py);
#   2. short digits trainings through `seqkit fit` + `seqkit test` at fp32, bf16-mixed and
#      16-mixed (BiGRU), and minGRU at bf16-mixed: time, test WER/CER;
#   3. training throughput through seqkit against a bare PyTorch loop, loader share and
#      peak memory, per precision (tools/bench_train.py), and the host time of one batch's
#      transfer to the GPU, Lightning's against the data modules' (tools/bench_batch_transfer.py).
# Prints one table per part; every result is also written as JSON under OUT_DIR.
#
#   bash tools/gpu_check.sh [DIGITS_DIR [OUT_DIR]]     # DIGITS_DIR from tools/synth_digits.py
#
# GPU_CHECK_EPOCHS (default 10) sets the training length of part 2.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:-data/digits}")
OUT=$(realpath -m "${2:-runs/gpu_check}")
EPOCHS=${GPU_CHECK_EPOCHS:-10}
PYTHON=${PYTHON:-python3}
CONFIG=configs/speech_to_text/digits_bigru.yaml
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

nvidia-smi -L
"$PYTHON" -c 'import torch, lightning; print("torch", torch.__version__, "lightning", lightning.__version__, torch.cuda.get_device_name(0))'

echo "== 1/3 encoder speed (forward + backward)"
"$PYTHON" tools/bench_encoders.py --device cuda --batch 64 --frames 800 --input-size 80 --hidden 320 --layers 4 \
    --cells lstm gru mingru --stack 1 4 --precision 32 bf16-mixed --iters 10 --warmup 3 --json "$OUT/encoders.json"

echo "== 2/3 digits training: $EPOCHS epochs per run"
echo "| cell | precision | fit seconds | best checkpoint | test WER | test CER |"
echo "| --- | --- | ---: | --- | ---: | ---: |"
for run in gru:32 gru:bf16-mixed gru:16-mixed mingru:bf16-mixed; do
    cell=${run%%:*} precision=${run#*:}
    root="$OUT/fit_${cell}_${precision}"
    start=$(date +%s.%N)
    "$PYTHON" -m seqkit.cli fit --config "$CONFIG" --trainer.accelerator gpu --trainer.devices 1 \
        --trainer.precision "$precision" --trainer.max_epochs "$EPOCHS" --trainer.default_root_dir "$root" \
        --trainer.enable_progress_bar false --model.init_args.encoder.init_args.cell "$cell" \
        --data.init_args.train_manifest "$DATA/train.jsonl" --data.init_args.val_manifest "$DATA/dev.jsonl" \
        --data.init_args.test_manifest "$DATA/test.jsonl" --data.init_args.num_workers 4 >"$root.log" 2>&1 \
        || { tail -30 "$root.log"; exit 1; }
    end=$(date +%s.%N)
    best=$(ls -t "$root"/version_0/checkpoints/best-*.ckpt | head -n 1)
    "$PYTHON" -m seqkit.cli test --config "$root/version_0/config.yaml" --ckpt_path "$best" \
        --trainer.enable_progress_bar false >>"$root.log" 2>&1 || { tail -30 "$root.log"; exit 1; }
    "$PYTHON" - "$root" "$cell" "$precision" "$start" "$end" "$best" <<'EOF'
import json, sys
from pathlib import Path
root, cell, precision, start, end, best = sys.argv[1:]
report = max(Path(root).rglob("wer_report.json"), key=lambda p: p.stat().st_mtime)
totals = json.loads(report.read_text())["totals"]
result = {"cell": cell, "precision": precision, "fit_seconds": float(end) - float(start),
          "best_checkpoint": Path(best).name, "test_wer": totals["wer"], "test_cer": totals["cer"]}
Path(root + ".json").write_text(json.dumps(result, indent=2) + "\n")
print(f"| {cell} | {precision} | {result['fit_seconds']:.0f} | {result['best_checkpoint']} | "
      f"{100 * totals['wer']:.2f}% | {100 * totals['cer']:.2f}% |")
EOF
done

echo "== 3/3 training throughput: seqkit against a bare loop (speechocean762 model shape: 3 x 256, stack x4)"
for run in lstm:32 lstm:bf16-mixed lstm:16-mixed mingru:bf16-mixed; do
    cell=${run%%:*} precision=${run#*:}
    "$PYTHON" tools/bench_train.py --device cuda --cell "$cell" --precision "$precision" --manifest "$DATA/train.jsonl" \
        --data-root "$DATA" --max-batch-seconds 60 --num-workers 4 --steps 10 --warmup 2 --rounds 3 \
        --json "$OUT/train_${cell}_$precision.json"
done
"$PYTHON" tools/bench_batch_transfer.py --device cuda --manifest "$DATA/train.jsonl" --data-root "$DATA"
