#!/usr/bin/env bash
# The four classification results of docs/reproduction.md at CPU scale (the shared 4,000
# training / 1,000 test CIFAR-10 images), one step after another, on one thread.
# Resumable: re-run it after a kill; finished runs and tables are skipped, a partial run resumes.
#
#   tools/reproduce_cpu.sh [RUNS_ROOT]       # from the project root; default runs-cpu
#
# Order: what the doc still lacks first (M_natural, the rescaled control, Fig. 5's heuristics,
# Fig. 3's shuffled run), then the results it has. Figures and tables are redrawn after each
# step from what exists.
set -euo pipefail
ROOT=${1:-runs-cpu}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
CFG=configs/classify/cpu
TEST=../shared/data/cifar10/test_first1000.npz
RUNS=$ROOT/cifar4k
FIG=$ROOT/figures

hc() { python -m hfc_classify "$@"; }
stamp() { echo "== $(date -u +%FT%TZ) $*"; }
sweep() { stamp "sweep $*"; hc sweep "$CFG/$1.yaml" --output "$ROOT" --no-progress "${@:2}"; }

table2() {  # RUN [OUT [OPTION...]]: Table 2 rows of one model, first 500 test images
  local run=$1 out=$ROOT/table2/${2:-$1}
  [ -f "$out/table2.csv" ] && return
  stamp "robustness $run -> $out ${*:3}"
  hc robustness --arch released_resnet --checkpoint "$RUNS/$run/checkpoint.pt" --data "$TEST" \
    --rho 0,0.1,0.25,0.5,1.0 --attack fgsm,pgd --eps 0.03,0.06,0.09 --limit 500 \
    --batch-size 100 --device cpu --output "$out" "${@:3}"
}

plot() {  # NAME RUN...: curves and table of the runs that exist so far
  local name=$1 runs=()
  shift
  for r in "$@"; do [ -f "$RUNS/$r/metrics.csv" ] && runs+=("$RUNS/$r"); done
  [ ${#runs[@]} -gt 0 ] && hc plot "${runs[@]}" --output "$FIG/$name" || true
}

# What docs/reproduction.md still lacks comes first: M_natural (the control and both figures
# need it), the rescaled-smoothing control, Fig. 5's heuristics and Fig. 3's shuffled run.
sweep table2 --only vanilla
table2 vanilla
# Control: smoothing with the kernels divided by 1 + 8 rho (same output scale), to tell the
# effect of smoothness from that of Eq. 3's growth of the first layer.
table2 vanilla vanilla_rescaled --rescale
sweep heuristics --only dropout --only mixup --only batchnorm
plot fig5 vanilla dropout mixup batchnorm adversarial
sweep shuffled_labels
plot fig3 vanilla shuffled
# Then the results already in the doc, rerun on this machine.
sweep table2 --only adversarial
table2 adversarial
stamp kernels
hc kernels --arch released_resnet --checkpoint "$RUNS/vanilla/checkpoint.pt" \
  --checkpoint "$RUNS/adversarial/checkpoint.pt" --label M_natural --label M_adversarial \
  --rho 1 --output "$FIG/fig7_kernels.png"
sweep table1
plot table1 vanilla lfc_r4 lfc_r8 lfc_r12 lfc_r16 hfc_r4 hfc_r8 hfc_r12 hfc_r16
plot fig5 vanilla dropout mixup batchnorm adversarial
stamp done
