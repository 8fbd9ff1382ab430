"""Class accuracy of class-conditional Fashion-MNIST runs, for ``bench/gpu_quality.sh``.

    python bench/gpu_class_accuracy.py OUT_DIR RUN_CKPT_DIR [RUN_CKPT_DIR ...]

On the GPU when there is one. For every ``g*.ckpt`` in each checkpoint folder (and ``last.ckpt`` when it is
further on): ``class_accuracies`` with 200 samples per class (seed 0), the shipped Fashion-MNIST classifier
reading the 28 px picture inside the padding (``bench/runs.py`` ``unpadded``), as ``bench/auxiliary_families.py``
measures it, of the raw generator and, where the run keeps one, of its EMA (EMA does not change training, so
the two are the same run read two ways). For the last checkpoint, a truncation sweep: class accuracy, domain FID
and intra-class FID (2,000 samples against 2,000 training images) for z truncated at each threshold.
A second, tighter reading of chosen checkpoints (untruncated, raw and EMA; printed, not written), e.g. 1,000 samples
per class with sampling seed 1:

    python bench/gpu_class_accuracy.py --reread 1000 1 CKPT [CKPT ...]

Writes OUT_DIR/class_accuracy.json after every figure (a run cut by a time limit keeps what it measured) and, per
run, a 10 x 10 grid of the last checkpoint's samples (row y: class y) named after the run folder."""
import json
import sys
from pathlib import Path

import torch
from torchvision.utils import save_image

sys.path.insert(0, "bench")
from runs import datamodule_of, scores, unpadded  # noqa: E402

from lit_gans.checkpoints import load_family  # noqa: E402
from lit_gans.regularizers import refresh_spectral_norms  # noqa: E402
from lit_gans.metrics import ModelEvaluation, class_accuracies, load_domain_network  # noqa: E402
from lit_gans.sampling import Truncated  # noqa: E402

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
THRESHOLDS = (None, 2.0, 1.5, 1.0, 0.5)
N_PER_CLASS = 200


class Generator(Truncated):
    """A family's samples from its raw generator (``ema=False``) or its EMA, z truncated or not."""

    def __init__(self, module, ema: bool, truncation=None):
        super().__init__(module, truncation)
        self.ema = ema

    def sample(self, n, *args, **kwargs):
        kwargs.setdefault("ema", self.ema)
        return super().sample(n, *args, **kwargs)


def readings(model):
    """The generators to read: the raw one, and the EMA where the run keeps one."""
    return ("raw", "ema") if model.ema_generator is not None else ("raw",)


def accuracy(model, classifier, ema: bool, truncation=None, n_per_class: int = N_PER_CLASS, seed: int = 0) -> dict:
    acc = class_accuracies(Generator(model, ema, truncation), classifier, n_per_class, seed)
    return {"accuracy": round(float(acc["accuracy"]), 4), "per_class": [round(float(v), 3) for v in acc["per_class"]]}


def load(ck: Path):
    """The family in ``ck``. Checkpoints written before 2026-11-28 saved an EMA of a spectrally normalised
    generator (BigGAN's) with averaged singular vectors, which misjudge its spectral norms: they are re-estimated
    here (30 power iterations; a later checkpoint's vectors are already the average's own and barely move)."""
    model = load_family(ck, map_location=DEVICE).eval()
    if model.ema_generator is not None:
        refresh_spectral_norms(model.ema_generator.lit_gans_spectral, iterations=30)
    return model


def checkpoints(folder: Path) -> list[Path]:
    steps = sorted(folder.glob("g*.ckpt"))
    last = folder / "last.ckpt"
    if last.is_file():
        ends = [torch.load(c, map_location="cpu", weights_only=True)["lit_gans"].get("g_step") for c in (steps[-1:] + [last])]
        if not steps or (ends[-1] or 0) > (ends[0] or 0):
            steps.append(last)
    return steps


def main(out_dir: str, folders: list[str]) -> None:
    out: dict = {"device": torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu", "runs": {}}
    target = Path(out_dir, "class_accuracy.json")

    def save() -> None:
        target.write_text(json.dumps(out, indent=1))

    classifier = load_domain_network("fashion_mnist").to(DEVICE).eval()
    models = {}
    for folder in map(Path, folders):  # every checkpoint first: the curves, before the slower sweeps
        name, cks = folder.parent.name, checkpoints(folder)
        if not cks:
            out["runs"][name] = "no checkpoint"
            continue
        recorded = datamodule_of(cks[-1])
        reader = unpadded(classifier, recorded[1])
        rows = out["runs"].setdefault(name, {"curve": [], "sweep": []})["curve"]
        for ck in cks:
            model = load(ck)
            row = {"ckpt": ck.name, "g_step": model.g_step}
            for which in readings(model):
                row[which] = accuracy(model, reader, which == "ema")
            rows.append(row)
            print(name, ck.name, model.g_step, {k: row[k]["accuracy"] for k in readings(model)}, flush=True)
            save()
        models[name] = (model, recorded, reader)
        with torch.no_grad():
            latent = model.latent_spec.draw(100, model.device)
            latent.labels[:] = torch.arange(10).repeat_interleave(10)
            save_image(model.sample(100, latent=latent) * 0.5 + 0.5, Path(out_dir, f"{name}_classes.png"), nrow=10)
    for name, (model, (datamodule, _), reader) in models.items():
        evaluation = ModelEvaluation(datamodule, metrics=["fid", "intra_fid"], n_samples=2000, n_real=2000)
        evaluation.prepare(model.device)
        for which in readings(model):
            for t in THRESHOLDS:
                view = Generator(model, which == "ema", t)
                metrics = scores(evaluation, view)
                row = {"generator": which, "truncation": t, **accuracy(model, reader, which == "ema", t), **metrics}
                out["runs"][name]["sweep"].append(row)
                print(name, "sweep", which, t, row["accuracy"], metrics, flush=True)
                save()


def reread(n_per_class: int, seed: int, paths: list[str]) -> None:
    classifier = load_domain_network("fashion_mnist").to(DEVICE).eval()
    for ck in map(Path, paths):
        model = load(ck)
        reader = unpadded(classifier, datamodule_of(ck)[1])
        for which in readings(model):
            row = accuracy(model, reader, which == "ema", n_per_class=n_per_class, seed=seed)
            print(ck, model.g_step, which, row["accuracy"], row["per_class"], flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--reread":
        reread(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    else:
        main(sys.argv[1], sys.argv[2:])
