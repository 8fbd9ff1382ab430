"""Class accuracy of class-conditional Fashion-MNIST runs, for ``bench/gpu_quality.sh``.

    python bench/gpu_class_accuracy.py OUT_DIR RUN_CKPT_DIR [RUN_CKPT_DIR ...]

For every ``g*.ckpt`` in each checkpoint folder: ``class_accuracies`` with 200 samples per class (seed 0), the
shipped Fashion-MNIST classifier reading the 28 px picture inside the padding (``bench/runs.py`` ``unpadded``), as
``bench/auxiliary_families.py`` measures it. Writes OUT_DIR/class_accuracy.json and, per run, a 10 x 10 grid of the
last checkpoint's samples (row y: class y) named after the run folder."""
import json, sys, time
from pathlib import Path
import torch
sys.path.insert(0, "bench")
from runs import datamodule_of, unpadded
from lit_gans.checkpoints import load_family
from lit_gans.metrics import class_accuracies, load_domain_network
from torchvision.utils import save_image
out = {}
clf = load_domain_network("fashion_mnist")
for d in sys.argv[2:]:
    d = Path(d); cks = sorted(d.glob("g*.ckpt"))
    if not cks:
        out[d.parent.name] = "no checkpoint"; continue
    c = unpadded(clf, datamodule_of(cks[-1])[1]); rows = []
    for ck in cks:
        m = load_family(ck).eval(); t = time.time()
        acc = class_accuracies(m, c, 200, 0)
        rows.append({"ckpt": ck.name, "g_step": m.g_step, "accuracy": acc["accuracy"],
                     "per_class": [round(float(v), 3) for v in acc.get("per_class", [])] if "per_class" in acc else None})
        print(d.parent.name, ck.name, m.g_step, round(acc["accuracy"], 4), flush=True)
    with torch.no_grad():
        z = m.latent_spec.draw(100, m.device); z.labels[:] = torch.arange(10).repeat_interleave(10)
        save_image(m.sample(100, latent=z) * 0.5 + 0.5, f"{sys.argv[1]}/{d.parent.name}_classes.png", nrow=10)
    out[d.parent.name] = rows
print(json.dumps(out)); Path(sys.argv[1], "class_accuracy.json").write_text(json.dumps(out, indent=1))
