#!/usr/bin/env bash
# One call on a lent GPU machine (bench/results/gpu_quality.md, throughput_gpu.md): the per-step table
# (bench/throughput.py --gpu), then AC-GAN (2 seeds), cGAN-PD and BigGAN on Fashion-MNIST from their configs for the
# time left, all four at once on the one GPU, and each checkpoint's class accuracy (bench/gpu_class_accuracy.py).
#   ACC=gpu|cpu  TP_BUDGET (s, throughput rounds)  TP_TIMEOUT (s)  DEADLINE (s from start)  OUT (results folder)
#   FMNIST_GZ: a folder with Fashion-MNIST's four *-ubyte.gz files (default Debian's /usr/share/datasets/fashion-mnist,
#   else .gpu/fmnist, a git-ignored copy carried to a machine without the package); .whl: the wheels the GPU image lacks.
# Run from the repository root:  TP_TIMEOUT=330 TP_BUDGET=80 DEADLINE=545 bash bench/gpu_quality.sh
set -u
T0=$(date +%s); ACC=${ACC:-gpu}; DEADLINE=${DEADLINE:-540}; TP_TIMEOUT=${TP_TIMEOUT:-300}; OUT=${OUT:-/tmp/gpu_out}; mkdir -p $OUT
if [ "$ACC" = gpu ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD; PY=python3
  nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
else
  export PYTHONPATH=$PWD; PY=${PY:-.venv/bin/python}
fi
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled
mkdir -p data/FashionMNIST/raw && G=${FMNIST_GZ:-/usr/share/datasets/fashion-mnist}; [ -d $G ] || G=.gpu/fmnist; for f in $G/*.gz; do b=$(basename $f .gz); [ -f data/FashionMNIST/raw/$b ] || gunzip -c $f > data/FashionMNIST/raw/$b; done
$PY -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__, 'cuda', torch.cuda.is_available())"
if [ "$ACC" = gpu ]; then
  echo "== throughput (issue 7) at $(( $(date +%s) - T0 )) s"
  timeout $TP_TIMEOUT $PY bench/throughput.py --gpu --budget ${TP_BUDGET:-90} > $OUT/throughput.log 2>&1; echo "throughput rc=$?"
  grep -v -i "warn\|deprecat\|━\|┃\|│\|┡\|┏\|└\|params\|Modules in\|FLOPs" $OUT/throughput.log | tail -40
  cp bench/results/throughput_gpu.md bench/results/throughput_gpu.json $OUT/ 2>/dev/null
fi
LEFT=$(( DEADLINE - ($(date +%s) - T0) - 75 )); [ $LEFT -gt 200 ] && LEFT=200
echo "== quality runs for $LEFT s at $(( $(date +%s) - T0 )) s"
W=/tmp/q; mkdir -p $W
run() { # name config seed extra...
  local n=$1 c=$2 s=$3; shift 3
  $PY -m lit_gans.cli fit --config $c --seed_everything $s --trainer.accelerator $ACC --trainer.max_time "$(printf 00:00:%02d:%02d $((LEFT/60)) $((LEFT%60)))" \
    --trainer.enable_progress_bar false --trainer.logger lightning.pytorch.loggers.CSVLogger --trainer.logger.save_dir $W/$n \
    --checkpoint.dirpath $W/$n/ck --checkpoint.every_n_g_steps 1000 --data.init_args.data_dir data "$@" > $W/$n.log 2>&1
  echo "$n rc=$? $(grep -h '^time:' $W/$n.log | cut -c1-160)"
}
run acgan_s0 configs/acgan/fashion_mnist.yaml 0 ${ACG:-} &
run acgan_s1 configs/acgan/fashion_mnist.yaml 1 ${ACG:-} &
run cgan_pd configs/cgan_pd/fashion_mnist.yaml 0 --checkpoint.every_n_g_steps 250 ${PDG:-} &
run biggan configs/biggan/fashion_mnist.yaml 0 --checkpoint.every_n_g_steps 250 ${PDG:-} &
wait
for n in acgan_s0 acgan_s1 cgan_pd biggan; do ls $W/$n/ck | tr '\n' ' '; echo; grep -i "error\|Traceback" $W/$n.log | head -3; done
echo "== evaluation at $(( $(date +%s) - T0 )) s"
timeout 90 $PY bench/gpu_class_accuracy.py $OUT $W/acgan_s0/ck $W/acgan_s1/ck $W/cgan_pd/ck $W/biggan/ck 2>&1 | grep -v -i warn | tail -30
tar czf $OUT/quality_logs.tgz -C $W $(cd $W; ls *.log) $(cd $W; ls -d */lightning_logs 2>/dev/null) 2>/dev/null
echo "== done at $(( $(date +%s) - T0 )) s"
