"""Runs of ``bench/limited_data.py`` that stopped early, compared with the table's runs at the same generator steps.

    python bench/limited_data_matched.py RESULTS.json [--table bench/results/limited_data.json] [--name NAME]
        [--observations FILE]

RESULTS.json holds ``{"runs": [...], "commands": [...]}``: each run as ``limited_data.py`` records it (``setting``,
``seed`` and the ``curve`` that ``limited_data.py --child CKPT_DIR`` prints), e.g. a new setting cut by the time
at hand. Every setting is read up to the last step that all the new runs reached: domain FID per step (mean over
seeds), and per seed against no augmentation at that step, by the last checkpoint, the mean of the last
``LATE`` checkpoints and the best one. Writes bench/results/NAME.md and .json (NAME default
``limited_data_matched``)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import markdown_table, write_results  # noqa: E402
from limited_data import LATE, best_point, late_mean  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--table", default="bench/results/limited_data.json")
    parser.add_argument("--name", default="limited_data_matched")
    parser.add_argument("--observations", default=None)
    args = parser.parse_args()
    new = json.loads(Path(args.results).read_text())
    table = json.loads(Path(args.table).read_text())
    upto = min(max(p["g_step"] for p in r["curve"]) for r in new["runs"])
    runs = [r for r in table["runs"] + new["runs"] if r.get("curve")]
    settings = list(dict.fromkeys(r["setting"] for r in runs))

    def points(run: dict) -> list[dict]:
        return sorted((p for p in run["curve"] if p["g_step"] <= upto), key=lambda p: p["g_step"])

    steps = sorted({p["g_step"] for r in new["runs"] for p in points(r)})
    shown = [s for s in steps if s % 1200 == 0 or s == upto]
    by_step = []
    for setting in settings:
        mine = [{p["g_step"]: p["fid"] for p in points(r)} for r in runs if r["setting"] == setting]
        by_step.append([setting, len(mine), *[statistics.mean(m[s] for m in mine) if all(s in m for m in mine) else None
                                             for s in shown]])
    measures = {"last": lambda ps: ps[-1]["fid"], f"mean of the last {LATE}": lambda ps: late_mean({"curve": ps}),
                "best": lambda ps: best_point({"curve": ps})["fid"], "KID (last)": lambda ps: ps[-1]["kid"]}
    base = {r["seed"]: points(r) for r in runs if r["setting"] == "none"}
    per_seed, wins = [], []
    for setting in settings:
        for r in (r for r in runs if r["setting"] == setting):
            ps = points(r)
            per_seed.append([setting, r["seed"], ps[-1]["g_step"], *[f(ps) for f in measures.values()],
                             ps[-1]["critic_real_seen"] - ps[-1]["critic_real_unseen"]])
        if setting != "none":
            for label, f in measures.items():
                pairs = [(f(base[r["seed"]]), f(points(r))) for r in runs if r["setting"] == setting and r["seed"] in base]
                wins.append(f"- {setting}, {label}: lower than no augmentation in {sum(b > m for b, m in pairs)} of {len(pairs)} seeds.")
    body = ["Commands: " + "; ".join(f"`{c}`" for c in new.get("commands", [])) + f"; then `python bench/limited_data_matched.py "
            f"{args.results}` against `{args.table}`.", "",
            f"Every run read up to generator step {upto:,}, the last step all the new runs reached; the table's runs went on to "
            f"{max(p['g_step'] for r in table['runs'] for p in r.get('curve', [])):,} (`limited_data.md`). Protocol as there: "
            "domain FID and KID in the shipped Fashion-MNIST classifier's features against 2,000 images of the full training set, "
            "and the critic's seen-unseen gap.", "",
            "## Mean domain FID over seeds at each step", "",
            *markdown_table(["setting", "seeds", *[f"G {s:,}" for s in shown]], by_step), "",
            "## Against no augmentation, per seed", "", *wins, "",
            *markdown_table(["setting", "seed", "G step", "FID (last)", f"FID (mean of last {LATE})", "FID (best)", "KID (last)",
                             "critic gap (last)"], per_seed)]
    if args.observations:
        body += ["", "## Reading", "", Path(args.observations).read_text().strip()]
    write_results(args.name, f"10 % of Fashion-MNIST: {', '.join(s for s in settings if s not in ('none',))} against no "
                  f"augmentation up to {upto:,} iterations", body, {"upto": upto, "runs": new["runs"], "commands": new.get("commands", [])})


if __name__ == "__main__":
    main()
