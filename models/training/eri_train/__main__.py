"""python3 -m eri_train {train,predict,import-checkpoint,teacher,bench} — see models/training/README.md."""

import argparse
import csv
import json
import os
import sys
import time

import torch

from . import metrics, safetensors_io
from .data import FeatureDataset, collate
from .package import load_package, state_dict_from_checkpoint
from .teachers import TEACHERS
from .train import PROJECT_DEFAULTS, SEED_RECIPE, TrainConfig, train


def comma_list(value):
    """Names separated by commas, as `eri train` reads them: "a, b" is ["a", "b"]."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"no name in {value!r}")
    return names


def cmd_train(a):
    config = TrainConfig(**{k: getattr(a, k) for k in (*SEED_RECIPE, *PROJECT_DEFAULTS)})
    fields = {
        "name": a.name,
        "version": a.version,
        "description": a.description or f"ERI model trained with the seed's recipe on {a.features}",
        "licence": a.licence,
        "training": {"data": a.data or f"features extracted by eri extract into {a.features}"},
    }
    card, val, constant = train(a.features, a.out, config, fields)
    print(json.dumps({"package": a.out, "val": val, "constant_baseline": constant, "weights": card["weights"]}, indent=2))


def cmd_predict(a):
    torch.set_num_threads(a.threads)
    model, card = load_package(a.model)
    data = FeatureDataset(a.features)
    clips = data.split(a.split) if a.split else data.clips
    with torch.no_grad():
        rows = []
        for i in range(0, len(clips), a.batch):
            batch = clips[i : i + a.batch]
            rows.extend(model(*collate(batch, None, data.video_dim, data.audio_dim)).tolist())
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["File_ID", *card["emotions"]])
        for clip, row in zip(clips, rows):
            w.writerow([clip.id, *(f"{v:.9g}" for v in row)])
    labelled = [(c, r) for c, r in zip(clips, rows) if c.labels is not None]
    if labelled:
        result = metrics.evaluate([r for _, r in labelled], [c.labels.tolist() for c, _ in labelled], card["emotions"])
        print(json.dumps(result, indent=2))


def cmd_import_checkpoint(a):
    obj = torch.load(a.checkpoint, map_location="cpu")
    state = state_dict_from_checkpoint(obj)
    safetensors_io.write(a.out, state, {"format": "pt", "source": a.checkpoint})
    print(f"wrote {len(state)} tensors to {a.out}; now: eri model import {a.out} --out <package-dir> ...")


def cmd_teacher(a):
    from .teacher import label_features

    kept, dropped = label_features(a.features, a.kind)
    print(f"{a.kind} teacher labels for {kept} clips in {a.features}/index.json; {len(dropped)} without a face left out")


def cmd_heldout(a):
    import numpy as np

    from . import heldout
    from .teacher import read_teacher
    from .teachers import EXTERNAL_FILES, Layout, external_inputs, read_external

    with open(a.meta, encoding="utf-8") as f:
        meta = json.load(f)
    data = FeatureDataset(a.features)
    by_id = {c.id: c for c in data.clips}
    rows = [m for m in meta["clips"] if m["id"] in by_id]
    clips = [by_id[m["id"]] for m in rows]
    layout = Layout(data.spec)
    chosen, reference = read_teacher(a.teacher_file)
    # A teacher whose inputs are not features is scored only where its file was made (faceapi-teacher.mjs).
    teachers = [k for k in TEACHERS if k not in EXTERNAL_FILES or os.path.exists(os.path.join(a.features, EXTERNAL_FILES[k]))]
    for k in set(TEACHERS) - set(teachers):
        print(f"teacher {k} not scored: no {EXTERNAL_FILES[k]} in {a.features}", file=sys.stderr)
    external = {k: external_inputs(k, a.features) for k in teachers}
    scorers = {f"teacher:{k}": heldout.teacher_scores(k, clips, layout, reference, external[k]) for k in teachers}
    if a.model:
        model, card = load_package(a.model)
        student = heldout.student_scores(model, clips)
        scorers["student"] = student
        scorers["constant"] = np.tile(np.nanmean(student, 0), (len(clips), 1))
    result = {
        "what": meta.get("what"),
        "emotions": heldout.EMOTIONS,
        "mapped": meta["mapped"],
        "chance_top1": 1 / len(meta["mapped"]),
        "clips": len(clips),
        "missing": [m["id"] for m in meta["clips"] if m["id"] not in by_id],
        "trainingTeacher": chosen,
        "bootstrap": f"{heldout.BOOTSTRAP} resamples, 95 % percentile interval",
        "scorers": {name: heldout.measure(s, rows, meta["mapped"]) for name, s in scorers.items()},
    }
    if a.running:
        with open(a.running, encoding="utf-8") as f:
            runs = json.load(f)
        checks = []
        for run in runs:
            video, audio = heldout.read_clip(run["features"])
            run_external = {k: read_external(run[k]) for k in EXTERNAL_FILES if run.get(k)}
            series = {f"teacher:{k}": heldout.teacher_running(k, video, audio, layout, reference, run["windowSteps"],
                                                              run["strideSteps"], data.spec["rateHz"], run_external.get(k))
                      for k in teachers if k not in EXTERNAL_FILES or k in run_external}
            if run.get("student"):
                series["student"] = [(e["windowEnd"], e["values"]) for e in run["student"]]
                series["constant"] = [(t, [0.0] * 7) for t, _ in series["student"]]
            checks.append({
                "clip": run["clip"], "windowS": run["windowSteps"] / data.spec["rateHz"],
                "scorers": {n: heldout.running_check(v, run["emotion"], run["splitAtS"]) for n, v in series.items()},
                "series": {n: [[round(t, 2), *[round(x, 4) for x in v]] for t, v in ser] for n, ser in series.items()},
            })
        result["running"] = checks
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    summary = {n: {"direction": r["direction"]["value"], "top1": r["top1"]["value"], "top1VsNeutral": r["top1VsNeutral"]["value"]}
               for n, r in result["scorers"].items()}
    print(json.dumps(summary, indent=1))


def cmd_bench(a):
    """The reference computation of one running estimate from scratch: both GRUs + encoders over T steps."""
    torch.set_num_threads(a.threads)
    if a.model:
        model, _ = load_package(a.model)
    else:
        from .model import EriModel

        torch.manual_seed(0)
        model = EriModel(a.video_dim, a.audio_dim).eval()
    t = a.steps
    video = torch.randn(1, t, model.video_dim)
    audio = torch.randn(1, t, model.audio_dim)
    lengths = torch.tensor([t])
    times = []
    with torch.no_grad():
        for i in range(a.warmup + a.repeats):
            start = time.perf_counter()
            model(video, lengths, audio, lengths)
            if i >= a.warmup:
                times.append((time.perf_counter() - start) * 1000)
    times.sort()
    print(json.dumps({
        "what": f"PyTorch {torch.__version__}: full model from scratch, T={t} both branches, batch 1",
        "threads": a.threads,
        "repeats": a.repeats,
        "median_ms": times[len(times) // 2],
        "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))],
        "max_ms": times[-1],
    }))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m eri_train", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train on features written by `eri extract`; writes a model package")
    t.add_argument("features")
    t.add_argument("--out", required=True)
    seed = SEED_RECIPE
    # Unset flags stay None, so TrainConfig fills in the seed's value (one table, not two).
    t.add_argument("--epochs", type=int, help=f"epochs (seed: {seed['epochs']})")
    t.add_argument("--batch", type=int, help=f"clips per batch (seed: {seed['batch']})")
    t.add_argument("--lr", type=float, help=f"AdamW learning rate (seed: {seed['lr']})")
    t.add_argument("--weight-decay", type=float, help=f"AdamW weight decay (seed: {seed['weight_decay']})")
    t.add_argument("--lr-step", type=int, help=f"epochs per learning-rate step (seed: {seed['lr_step']})")
    t.add_argument("--lr-gamma", type=float, help=f"learning-rate factor per step (seed: {seed['lr_gamma']})")
    t.add_argument("--dropout", type=float, help=f"attention output and MLP dropout (seed: {seed['dropout']})")
    t.add_argument("--attn-dropout", type=float, help=f"attention-probability dropout (seed: {seed['attn_dropout']})")
    t.add_argument("--head-dropout", type=float, help=f"dropout between the head's layers (seed: {seed['head_dropout']})")
    t.add_argument("--grad-clip", type=float, help=f"gradient norm clip, 0 = off (seed: {seed['grad_clip']})")
    t.add_argument("--patience", type=int, help="early stopping after n epochs without a better val r; 0 = off (seed: off)")
    t.add_argument("--seed", type=int, help=f"random seed (seed: {seed['seed']})")
    t.add_argument("--modality-dropout", type=float, help="chance per clip of hiding its video or audio (default 0)")
    t.add_argument("--feature-dropout", type=float, help="chance per video feature and clip of hiding it (default 0)")
    t.add_argument("--block-dropout", type=float, help="chance per video feature block and clip of hiding it (default 0)")
    t.add_argument("--feature-noise", type=float, help="std of Gaussian noise on the standardised video features (default 0)")
    t.add_argument("--expression-permutation", type=float,
                   help="chance per clip of training on it with its expression probabilities permuted and "
                        "relabelled by its teacher (expr, combo; default 0)")
    t.add_argument("--chain", type=float,
                   help="chance per batch of training on clips chained up to the live window (30 s) and "
                        "relabelled by their teacher (expr, facs, combo; default 0)")
    t.add_argument("--video-blocks", type=comma_list,
                   help="the video feature blocks the model reads, comma-separated (default: all); the others "
                        "get no input weight")
    t.add_argument("--audio-blocks", type=comma_list,
                   help="the audio feature blocks the model reads, comma-separated (default: all)")
    t.add_argument("--std-floor", action="store_const", const=True, help="floor each video feature's std at its block's median")
    t.add_argument("--threads", type=int)
    t.add_argument("--train-split")
    t.add_argument("--val-split")
    t.add_argument("--name", default="eri-trained")
    t.add_argument("--version", default="1.0.0")
    t.add_argument("--description")
    t.add_argument("--data", help="what the training data is, for the model card")
    t.add_argument("--licence", default="unspecified: set --licence to the terms the training data allows")
    t.set_defaults(run=cmd_train)

    pr = sub.add_parser("predict", help="a package's predictions over extracted features, as CSV")
    pr.add_argument("model")
    pr.add_argument("features")
    pr.add_argument("--split")
    pr.add_argument("--out", required=True)
    pr.add_argument("--batch", type=int, default=16)
    pr.add_argument("--threads", type=int, default=1)
    pr.set_defaults(run=cmd_predict)

    i = sub.add_parser("import-checkpoint", help="a reference .pt/.ckpt checkpoint -> safetensors state_dict")
    i.add_argument("checkpoint")
    i.add_argument("--out", required=True)
    i.set_defaults(run=cmd_import_checkpoint)

    te = sub.add_parser("teacher", help="write the starter model's proxy labels into an extracted feature set")
    te.add_argument("features")
    te.add_argument("--kind", default="expr", choices=TEACHERS, help="which teacher (teachers.py)")
    te.set_defaults(run=cmd_teacher)

    h = sub.add_parser("heldout", help="a model and the teacher candidates on held-out people, with bootstrap intervals")
    h.add_argument("features", help="extracted features of the held-out clips")
    h.add_argument("--meta", required=True, help="JSON: {mapped: [emotions], clips: [{id, file, person, acted, target}]}")
    h.add_argument("--teacher-file", required=True, help="teacher.json of the training features (reference statistics)")
    h.add_argument("--model", help="the student: a model package")
    h.add_argument("--running", help="JSON list of running-estimate checks ({clip, features, emotion, splitAtS, windowSteps, strideSteps, student})")
    h.add_argument("--out", required=True)
    h.set_defaults(run=cmd_heldout)

    b = sub.add_parser("bench", help="time the full model from scratch (the PyTorch baseline of eri bench)")
    b.add_argument("--model")
    b.add_argument("--steps", type=int, default=300)
    b.add_argument("--video-dim", type=int, default=285)
    b.add_argument("--audio-dim", type=int, default=157)
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--repeats", type=int, default=20)
    b.add_argument("--warmup", type=int, default=3)
    b.set_defaults(run=cmd_bench)

    a = p.parse_args(argv)
    try:
        a.run(a)
    except (ValueError, OSError) as e:
        print(f"eri_train: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
