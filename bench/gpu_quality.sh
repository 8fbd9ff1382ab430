#!/usr/bin/env bash
# One call on a lent GPU machine (bench/results/gpu_quality.md, throughput_gpu.md, limited_data.md): the per-step
# table (bench/throughput.py --gpu), then class-conditional Fashion-MNIST runs from their configs (AC-GAN, cGAN-PD,
# BigGAN) for the time left, all at once on the one GPU, and each checkpoint's class accuracy
# (bench/gpu_class_accuracy.py); with LIMITED=1, the limited-data table's nine runs (bench/limited_data.py) beside them.
#   ACC=gpu|cpu  TP=1|0 (throughput first)  TP_BUDGET (s, throughput rounds)  TP_TIMEOUT (s)  TP_ARGS (more options)
#   PBC=1: then what the progress bar's redraws cost (bench/progress_bar_cost.py --device cuda, PBC_ARGS, about 2 minutes)
#   RUNS: which class-conditional runs (default "acgan_s0 acgan_s1 cgan_pd biggan"; "" for none): acgan_sN: AC-GAN
#   seed N; acgan_rN: the same with fake_class_loss false named (the config's since 2026-11-28: D's classifier on real
#   images only); acgan_pN: with the paper's class loss, fake_class_loss true; biggan_sN: BigGAN seed N (biggan: seed 0).
#   Each runs with THREADS torch threads (default 4: four runs share the 16 cores); ACG, PDG, BGG: more options of the
#   AC-GAN, cGAN-PD and BigGAN runs (e.g. BGG="--model.init_args.ema_start 0"). Where a run keeps an EMA (the three
#   configs do), the evaluation reads its raw generator and its EMA: training does not see the EMA, so that is one run
#   read two ways
#   MAX_RUN (s, longest run)  EVAL_TIMEOUT (s, the checkpoints' evaluation)
#   LIMITED=1: bench/limited_data.py with LD_ARGS (default: up to 20,000 steps at width 64, 9 jobs, capped at the time left)
#   DEADLINE (s from start)  OUT (results folder)  WORK (run folders, default /tmp/q)
#   FMNIST_GZ: a folder with Fashion-MNIST's four *-ubyte.gz files (default Debian's /usr/share/datasets/fashion-mnist,
#   else .gpu/fmnist, a git-ignored copy carried to a machine without the package); .whl: the wheels the GPU image lacks,
#   Python 3.12: jsonargparse, omegaconf, albumentations, albucore, pydantic, pydantic-core, annotated-types,
#   typing-inspection, stringzilla, simsimd, docstring-parser, typeshed-client and torch-fidelity (torchmetrics' FID).
# Run from the repository root:  TP_TIMEOUT=330 TP_BUDGET=80 DEADLINE=545 bash bench/gpu_quality.sh
# (quality only: TP=0 MAX_RUN=340 EVAL_TIMEOUT=150 DEADLINE=560 bash bench/gpu_quality.sh)
set -u
T0=$(date +%s); ACC=${ACC:-gpu}; DEADLINE=${DEADLINE:-540}; TP_TIMEOUT=${TP_TIMEOUT:-300}; OUT=${OUT:-/tmp/gpu_out}; mkdir -p $OUT
RUNS=${RUNS-acgan_s0 acgan_s1 cgan_pd biggan}
if [ "$ACC" = gpu ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  # a .pth file, so that the benches' subprocesses (which set PYTHONPATH to the repository) still find the wheels
  SITE=$(python3 -c "import site; print(site.getsitepackages()[0])"); echo /tmp/site > $SITE/lit_gans_wheels.pth 2>/dev/null \
    || { SITE=$(python3 -m site --user-site); mkdir -p $SITE; echo /tmp/site > $SITE/lit_gans_wheels.pth; }
  export PYTHONPATH=/tmp/site:$PWD; PY=python3
  nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
else
  export PYTHONPATH=$PWD; PY=${PY:-.venv/bin/python}
fi
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled
mkdir -p data/FashionMNIST/raw && G=${FMNIST_GZ:-/usr/share/datasets/fashion-mnist}; [ -d $G ] || G=.gpu/fmnist; for f in $G/*.gz; do b=$(basename $f .gz); [ -f data/FashionMNIST/raw/$b ] || gunzip -c $f > data/FashionMNIST/raw/$b; done
$PY -c "import torch, lightning, jsonargparse, albumentations, torch_fidelity; print('torch', torch.__version__, 'lightning', lightning.__version__, 'cuda', torch.cuda.is_available())" || exit 1
if [ "$ACC" = gpu ] && [ "${TP:-1}" = 1 ]; then
  echo "== throughput (issue 7) at $(( $(date +%s) - T0 )) s"
  timeout $TP_TIMEOUT $PY bench/throughput.py --gpu --budget ${TP_BUDGET:-90} ${TP_ARGS:-} > $OUT/throughput.log 2>&1; echo "throughput rc=$?"
  grep -v -i "warn\|deprecat\|━\|┃\|│\|┡\|┏\|└\|params\|Modules in\|FLOPs" $OUT/throughput.log | tail -40
  cp bench/results/throughput_gpu.md bench/results/throughput_gpu.json $OUT/ 2>/dev/null
fi
if [ "$ACC" = gpu ] && [ "${PBC:-0}" = 1 ]; then
  echo "== progress bar's cost (issue 7) at $(( $(date +%s) - T0 )) s"
  timeout ${PBC_TIMEOUT:-180} $PY bench/progress_bar_cost.py --device cuda ${PBC_ARGS:---rounds 4 --steps 300 --rates 0,2,10} > $OUT/progress_bar_cost.log 2>&1; echo "progress_bar_cost rc=$?"
  grep "^|\|^round" $OUT/progress_bar_cost.log | tail -12; cp bench/results/progress_bar_cost_gpu.* $OUT/ 2>/dev/null
fi
EVAL_TIMEOUT=${EVAL_TIMEOUT:-90}; LEFT=$(( DEADLINE - ($(date +%s) - T0) - EVAL_TIMEOUT - 40 )); [ $LEFT -gt ${MAX_RUN:-200} ] && LEFT=${MAX_RUN:-200}
echo "== quality runs for $LEFT s at $(( $(date +%s) - T0 )) s"
W=${WORK:-/tmp/q}; mkdir -p $W
if [ "${LIMITED:-0}" = 1 ]; then
  CAP=$(python3 -c "print(round(($LEFT - 15) / 60, 2))")
  ( $PY bench/limited_data.py ${LD_ARGS:---steps 20000 --every 2000 --width 64 --jobs 9} --max-minutes $CAP --work $W/limited > $OUT/limited_data.log 2>&1
    echo "limited_data rc=$?" >> $OUT/limited_data.log; cp bench/results/limited_data.md bench/results/limited_data.json $OUT/ 2>/dev/null ) &
  LD_PID=$!
fi
run() { # name config seed extra...
  local n=$1 c=$2 s=$3; shift 3
  OMP_NUM_THREADS=${THREADS:-4} $PY -m lit_gans.cli fit --config $c --seed_everything $s --trainer.accelerator $ACC --trainer.max_time "$(printf 00:00:%02d:%02d $((LEFT/60)) $((LEFT%60)))" \
    --trainer.enable_progress_bar false --trainer.logger lightning.pytorch.loggers.CSVLogger --trainer.logger.save_dir $W/$n \
    --checkpoint.dirpath $W/$n/ck --checkpoint.every_n_g_steps 1000 --checkpoint.save_top_k -1 --data.init_args.data_dir data "$@" > $W/$n.log 2>&1
  echo "$n rc=$? $(grep -h '^ *time:' $W/$n.log | cut -c1-160)"
}
DIRS=""; PIDS=""
for n in $RUNS; do
  case $n in
    acgan_s*) run $n configs/acgan/fashion_mnist.yaml ${n#acgan_s} ${ACG:-} & ;;
    acgan_r*) run $n configs/acgan/fashion_mnist.yaml ${n#acgan_r} --model.init_args.fake_class_loss false ${ACG:-} & ;;
    acgan_p*) run $n configs/acgan/fashion_mnist.yaml ${n#acgan_p} --model.init_args.fake_class_loss true ${ACG:-} & ;;
    cgan_pd) run $n configs/cgan_pd/fashion_mnist.yaml 0 --checkpoint.every_n_g_steps 500 ${PDG:-} & ;;
    biggan) run $n configs/biggan/fashion_mnist.yaml 0 --checkpoint.every_n_g_steps 500 ${BGG:-} & ;;
    biggan_s*) run $n configs/biggan/fashion_mnist.yaml ${n#biggan_s} --checkpoint.every_n_g_steps 500 ${BGG:-} & ;;
  esac
  PIDS="$PIDS $!"; DIRS="$DIRS $W/$n/ck"
done
[ -n "$PIDS" ] && wait $PIDS
for n in $RUNS; do ls $W/$n/ck | tr '\n' ' '; echo; grep -i "error\|Traceback" $W/$n.log | head -3; done
if [ -n "$DIRS" ]; then
  echo "== evaluation at $(( $(date +%s) - T0 )) s"
  timeout $EVAL_TIMEOUT $PY bench/gpu_class_accuracy.py $OUT $DIRS > $OUT/class_accuracy.log 2>&1; echo "evaluation rc=$?"
  grep -v -i warn $OUT/class_accuracy.log | tail -70
fi
if [ -n "${LD_PID:-}" ]; then wait $LD_PID; echo "== limited data at $(( $(date +%s) - T0 )) s"; grep -v -i "warn" $OUT/limited_data.log | tail -15; fi
tar czf $OUT/quality_logs.tgz -C $W $(cd $W; ls *.log 2>/dev/null) $(cd $W; ls -d */lightning_logs 2>/dev/null) 2>/dev/null
echo "== done at $(( $(date +%s) - T0 )) s"
