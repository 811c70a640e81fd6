"""python3 -m eri_train {train,predict,import-checkpoint,teacher,bench} — see models/training/README.md."""

import argparse
import csv
import json
import sys
import time

import torch

from . import metrics, safetensors_io
from .data import FeatureDataset, collate
from .package import load_package, state_dict_from_checkpoint
from .train import TrainConfig, train


def cmd_train(a):
    config = TrainConfig(
        epochs=a.epochs, batch=a.batch, lr=a.lr, weight_decay=a.weight_decay, lr_step=a.lr_step,
        lr_gamma=a.lr_gamma, patience=a.patience, seed=a.seed, dropout=a.dropout,
        modality_dropout=a.modality_dropout, threads=a.threads, train_split=a.train_split, val_split=a.val_split,
    )
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

    kept, dropped = label_features(a.features)
    print(f"teacher labels for {kept} clips in {a.features}/index.json; {len(dropped)} without a face left out")


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
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--weight-decay", type=float, default=1e-2)
    t.add_argument("--lr-step", type=int, default=10)
    t.add_argument("--lr-gamma", type=float, default=0.5)
    t.add_argument("--patience", type=int, default=15)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--modality-dropout", type=float, default=0.0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--train-split", default="Train")
    t.add_argument("--val-split", default="Val")
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
    te.set_defaults(run=cmd_teacher)

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
