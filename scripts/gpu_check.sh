#!/usr/bin/env bash
# One check of artcolor on a GPU machine, in a few minutes (docs/speed.md, "The GPU check"):
#   1. the CUDA tests (tests/*/test_gpu_*.py: bf16 and device checks, and with CUDA the -m cuda ones);
#   2. one photo at 1024 and 4096, automatic and with a palette (median seconds);
#   3. a folder of made 1024x768 JPEGs with a palette, as a whole command (photos/s);
#   4. a made 1280x720 clip with a palette, video mode (frames/s, the whole command);
#   5. 200 steps of `artcolor train` (the correspondence fine-tune) and of `artcolor train-auto`, crops/s.
# Every figure is printed on a line starting FIGURE, and again together at the end; the whole output
# goes to $OUT/gpu_check.log when $OUT is set. Each step has a time limit (exit 124 when it ran past
# it), so one that hangs costs its own figure, not the rest.
#
#   bash scripts/gpu_check.sh                              # on the GPU machine (PYTHONPATH=src, no install)
#   GPU_CHECK_DEVICE=cpu bash scripts/gpu_check.sh         # a small dry run on a CPU: the same steps, small sizes
#
# Sizes can be set: GPU_CHECK_PHOTOS (300), GPU_CHECK_FRAMES (300), GPU_CHECK_STEPS (200),
# GPU_CHECK_SIZES ("1024 4096"); the dry run's defaults are 12, 24, 3 and "256 512".
set -u -o pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
export PYTHONPATH=${PYTHONPATH:-$ROOT/src} HF_HUB_OFFLINE=1 PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}
if [ "$DEVICE" = cpu ]; then
  PHOTOS=${GPU_CHECK_PHOTOS:-12} FRAMES=${GPU_CHECK_FRAMES:-24} STEPS=${GPU_CHECK_STEPS:-3}
  SIZES=${GPU_CHECK_SIZES:-"256 512"} FOLDER_SIZE=320x240 FILM_SIZE=320x180 RUNS=2
  export ARTCOLOR_DEVICE_PATH=1  # the folder takes the GPU's batched path on the CPU too, to check it
  SLOW=3  # a 2-core CPU's time limits
else
  PHOTOS=${GPU_CHECK_PHOTOS:-300} FRAMES=${GPU_CHECK_FRAMES:-300} STEPS=${GPU_CHECK_STEPS:-200}
  SIZES=${GPU_CHECK_SIZES:-"1024 4096"} FOLDER_SIZE=1024x768 FILM_SIZE=1280x720 RUNS=10 SLOW=1
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
LOG=${OUT:+$OUT/gpu_check.log}
LOG=${LOG:-$WORK/gpu_check.log}
mkdir -p "$(dirname "$LOG")"
exec > >(tee -a "$LOG") 2>&1
FIGURES=$WORK/figures.txt
: > "$FIGURES"
PALETTE="#264653,#2a9d8f,#e9c46a,#f4a261,#e76f51"
CORES=$(nproc 2>/dev/null || echo 1)
START=$(date +%s.%N)

now() { date +%s.%N; }
figure() { echo "FIGURE $*"; echo "$*" >> "$FIGURES"; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
section() { echo; echo "=== $* ($(secs "$START" "$(now)") s in)"; }

section "machine"
echo "device $DEVICE, $CORES cores, $(uname -srm)"
$PY - <<'PYEOF'
import sys, torch
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
import artcolor; print("artcolor from", artcolor.__file__)
PYEOF

section "tests (tests/training/test_gpu_training.py, tests/inference/test_gpu_pipeline.py; -m cuda among them)"
t0=$(now)
timeout $(( 90 * SLOW )) $PY -m pytest -q -p no:cacheprovider -rs tests/training/test_gpu_training.py tests/inference/test_gpu_pipeline.py 2>&1 | tail -n 15
figure "tests: exit ${PIPESTATUS[0]} in $(secs "$t0" "$(now)") s"

section "one photo, already decoded (Colorizer.colorize)"
timeout $(( 60 * SLOW )) $PY scripts/gpu_check.py photos --device "$DEVICE" --sizes $SIZES --runs $RUNS | tee "$WORK/photos.txt"
grep '^FIGURE' "$WORK/photos.txt" | sed 's/^FIGURE //' >> "$FIGURES"

section "a folder: $PHOTOS JPEGs of $FOLDER_SIZE, a palette, as a whole command"
$PY scripts/gpu_check.py folder "$WORK/folder" --n "$PHOTOS" --size "$FOLDER_SIZE"
t0=$(now)
timeout $(( 60 * SLOW )) $PY -m artcolor colorize "$WORK/folder" -o "$WORK/folder_out" --palette "$PALETTE" --device "$DEVICE"
status=$?
t1=$(now)
written=$(find "$WORK/folder_out" -name '*.jpg' 2>/dev/null | wc -l)
figure "folder $FOLDER_SIZE x $PHOTOS, palette, whole command: $(rate "$written" "$t0" "$t1") photos/s ($written written in $(secs "$t0" "$t1") s, exit $status)"
t2=$(now)  # the same command again, every output there: start-up (interpreter, torch, model, device) and listing
timeout $(( 30 * SLOW )) $PY -m artcolor colorize "$WORK/folder" -o "$WORK/folder_out" --palette "$PALETTE" --device "$DEVICE" | tail -n 1
t3=$(now)
figure "folder start-up (the same command, every output there): $(secs "$t2" "$t3") s; after it: $(awk -v n="$written" -v w="$(secs "$t0" "$t1")" -v s="$(secs "$t2" "$t3")" 'BEGIN { printf "%.0f", (w > s) ? n / (w - s) : 0 }') photos/s"

section "a film: $FRAMES frames of $FILM_SIZE, a palette, video mode, as a whole command"
if $PY -c "import av, cv2" 2>/dev/null; then
  $PY scripts/gpu_check.py film "$WORK/clip.mp4" --frames "$FRAMES" --size "$FILM_SIZE"
  t0=$(now)
  timeout $(( 60 * SLOW )) $PY -m artcolor colorize "$WORK/clip.mp4" -o "$WORK/film_out" --palette "$PALETTE" --device "$DEVICE"
  status=$?
  t1=$(now)
  figure "film $FILM_SIZE x $FRAMES frames, palette, video mode, whole command: $(rate "$FRAMES" "$t0" "$t1") frames/s ($(secs "$t0" "$t1") s, exit $status)"
else
  figure "film: skipped (PyAV or OpenCV missing)"
fi

section "training: $STEPS steps of each loop on made photos"
$PY scripts/gpu_check.py training "$WORK/train" --photos 48 --paintings 16
WORKERS=$(( CORES > 8 ? 8 : (CORES > 1 ? CORES - 1 : 1) ))
t0=$(now)
timeout $(( 90 * SLOW )) $PY -m artcolor train --config configs/correspondence.yaml --init src/artcolor/weights/default \
  --photos "$WORK/train/photos" --paintings "$WORK/train/paintings" --out "$WORK/run_match" --steps "$STEPS" \
  --set device="$DEVICE" \
  --set val_every="$STEPS" --set ckpt_every="$STEPS" --set log_every=10 \
  --set data.num_workers="$WORKERS" 2>&1 | grep -v '^\s*$' | tail -n 6 | tee "$WORK/train.txt"
status=${PIPESTATUS[0]}
t1=$(now)
line=$(grep 'images/s' "$WORK/train.txt" | tail -n 1)
figure "train (correspondence fine-tune, batch 16 at 128): $(echo "$line" | grep -o '[0-9.]* images/s' | sed 's/images/crops/') by its log over $STEPS steps; whole command $(secs "$t0" "$t1") s, exit $status"
t0=$(now)
timeout $(( 75 * SLOW )) $PY -m artcolor train-auto --photos "$WORK/train/photos" --out "$WORK/run_auto" --steps "$STEPS" --epochs 100000 \
  --variants 4 --device "$DEVICE" 2>&1 | tail -n 4 | tee "$WORK/auto.txt"
status=${PIPESTATUS[0]}
t1=$(now)
line=$(grep 'crops/s' "$WORK/auto.txt" | tail -n 1)
figure "train-auto: ${line:-no crops/s line}; whole command (caching included) $(secs "$t0" "$t1") s, exit $status"

section "figures"
cat "$FIGURES"
echo "total $(secs "$START" "$(now)") s; log: $LOG"
rm -rf "$WORK/folder" "$WORK/folder_out" "$WORK/film_out" "$WORK/train" "$WORK/run_match" "$WORK/run_auto" "$WORK/clip.mp4"
