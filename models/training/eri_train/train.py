"""The seed's recipe: L2 loss, AdamW (lr 1e-4), lr halved every 10 epochs, batch 16 of whole clips,
early stopping on the validation mean Pearson r, fixed seeds, checkpoints; optional modality dropout."""

import json
import math
import os
import random
import time

import numpy as np
import torch

from . import metrics
from .data import FeatureDataset, Normaliser, collate
from .model import EriModel, fold_normalisation
from .package import write_package


class TrainConfig:
    def __init__(self, **kw):
        self.epochs = kw.get("epochs", 60)
        self.batch = kw.get("batch", 16)
        self.lr = kw.get("lr", 1e-4)
        self.weight_decay = kw.get("weight_decay", 1e-2)
        self.lr_step = kw.get("lr_step", 10)
        self.lr_gamma = kw.get("lr_gamma", 0.5)
        self.patience = kw.get("patience", 15)
        self.seed = kw.get("seed", 0)
        self.dropout = kw.get("dropout", 0.0)
        self.modality_dropout = kw.get("modality_dropout", 0.0)
        self.threads = kw.get("threads", 1)
        self.train_split = kw.get("train_split", "Train")
        self.val_split = kw.get("val_split", "Val")

    def as_dict(self):
        return dict(vars(self))


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def predict(model, clips, norm, video_dim, audio_dim, batch=16):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(clips), batch):
            out.append(model(*collate(clips[i : i + batch], norm, video_dim, audio_dim)))
    return torch.cat(out) if out else torch.zeros(0, 7)


def _log(message):
    print(message, flush=True)


def train(features_dir, out_dir, config, card_fields, log=_log):
    """Trains on `features_dir`, writes checkpoints under out_dir/checkpoints and the package in out_dir."""
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    data = FeatureDataset(features_dir)
    train_clips = [c for c in data.split(config.train_split) if c.labels is not None]
    val_clips = [c for c in data.split(config.val_split) if c.labels is not None]
    if not train_clips:
        raise ValueError(f"no labelled clips in split {config.train_split!r} of {features_dir}")
    if not val_clips:
        raise ValueError(f"no labelled clips in split {config.val_split!r} of {features_dir}: early stopping needs them")
    norm = Normaliser.fit(train_clips, data.video_dim, data.audio_dim)
    model = EriModel(data.video_dim, data.audio_dim, outputs=len(data.emotions), dropout=config.dropout)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimiser, step_size=config.lr_step, gamma=config.lr_gamma)
    ckpt_dir = os.path.join(out_dir, "checkpoints")
    os.makedirs(ckpt_dir, exist_ok=True)
    last_path = os.path.join(ckpt_dir, "last.pt")
    state = {"epoch": 0, "best": -math.inf, "best_epoch": 0, "history": []}
    best_weights = None
    if os.path.exists(last_path):
        ckpt = torch.load(last_path)
        model.load_state_dict(ckpt["model"])
        optimiser.load_state_dict(ckpt["optimiser"])
        scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng"])
        state = ckpt["state"]
        best_weights = torch.load(os.path.join(ckpt_dir, "best.pt"))["model"]
        log(f"resumed from {last_path} after epoch {state['epoch']}")

    val_true = torch.stack([c.labels for c in val_clips]).numpy()
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(state["epoch"]):
        torch.randperm(len(train_clips), generator=generator)  # replay the shuffles of finished epochs
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        started = time.time()
        model.train()
        order = torch.randperm(len(train_clips), generator=generator).tolist()
        losses = []
        for i in range(0, len(order), config.batch):
            batch = [train_clips[j] for j in order[i : i + config.batch]]
            drop = None
            if config.modality_dropout > 0:
                def drop(_k):
                    r = random.random()
                    if r < config.modality_dropout / 2:
                        return "video"
                    if r < config.modality_dropout:
                        return "audio"
                    return None
            inputs = collate(batch, norm, data.video_dim, data.audio_dim, drop)
            target = torch.stack([c.labels for c in batch])
            loss = torch.nn.functional.mse_loss(model(*inputs), target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        scheduler.step()
        val_pred = predict(model, val_clips, norm, data.video_dim, data.audio_dim).numpy()
        val = metrics.evaluate(val_pred, val_true, data.emotions)
        record = {
            "epoch": epoch,
            "train_loss": float(np.mean(losses)),
            "val_mean_pearson_r": val["mean_pearson_r"],
            "val_mae": val["mae"],
            "lr": optimiser.param_groups[0]["lr"],
            "seconds": round(time.time() - started, 2),
        }
        state["history"].append(record)
        improved = val["mean_pearson_r"] > state["best"]
        if improved:
            state["best"], state["best_epoch"] = val["mean_pearson_r"], epoch
            best_weights = {k: v.clone() for k, v in model.state_dict().items()}
            torch.save({"model": best_weights, "epoch": epoch}, os.path.join(ckpt_dir, "best.pt"))
        state["epoch"] = epoch
        torch.save(
            {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(),
                "state": state,
            },
            last_path,
        )
        log(
            f"epoch {epoch:3d}  loss {record['train_loss']:.5f}  val r {val['mean_pearson_r']:.4f}"
            f"  mae {val['mae']:.4f}  {'*' if improved else ' '}  {record['seconds']} s"
        )
        if epoch - state["best_epoch"] >= config.patience:
            log(f"early stop: no better validation r for {config.patience} epochs")
            break

    model.load_state_dict(best_weights)
    val_pred = predict(model, val_clips, norm, data.video_dim, data.audio_dim).numpy()
    val = metrics.evaluate(val_pred, val_true, data.emotions)
    constant = metrics.evaluate(
        np.tile(torch.stack([c.labels for c in train_clips]).mean(0).numpy(), (len(val_clips), 1)), val_true, data.emotions
    )
    exported = fold_normalisation(
        {k: v.clone() for k, v in model.state_dict().items()}, "rnn", norm.video_mean, norm.video_std
    )
    exported = fold_normalisation(exported, "rnn_aud", norm.audio_mean, norm.audio_std)
    split = config.val_split
    card = write_package(
        out_dir,
        exported,
        model,
        {
            **card_fields,
            "trained": True,
            "emotions": data.emotions,
            "featureSpec": data.spec,
            "modalities": {"video": "optional", "audio": "optional"},
            "metrics": [
                {"name": "mean_pearson_r", "split": split, "value": val["mean_pearson_r"]},
                *({"name": f"pearson_r.{e}", "split": split, "value": r} for e, r in val["pearson_r"].items()),
                {"name": "mae", "split": split, "value": val["mae"]},
                {
                    "name": "mean_pearson_r.constant_baseline",
                    "split": split,
                    "value": constant["mean_pearson_r"],
                    "note": "predicting the training split's mean for every clip",
                },
                {"name": "mae.constant_baseline", "split": split, "value": constant["mae"]},
            ],
            "training": {
                "data": card_fields.get("training", {}).get("data", f"features from {features_dir}"),
                "recipe": (
                    f"L2 loss, AdamW lr {config.lr} wd {config.weight_decay}, lr x{config.lr_gamma} every "
                    f"{config.lr_step} epochs, batch {config.batch} whole clips, best of {state['epoch']} epochs by "
                    f"{split} mean Pearson r (epoch {state['best_epoch']}), patience {config.patience}, seed "
                    f"{config.seed}, dropout {config.dropout}, modality dropout {config.modality_dropout}; inputs "
                    f"standardised on {len(train_clips)} {config.train_split} clips, folded into the first GRU layer"
                ),
            },
        },
    )
    with open(os.path.join(out_dir, "training-log.json"), "w", encoding="utf-8") as f:
        json.dump({"config": config.as_dict(), "history": state["history"], "best_epoch": state["best_epoch"],
                   "val": val, "constant_baseline": constant, "train_clips": len(train_clips),
                   "val_clips": len(val_clips)}, f, indent=2)
    return card, val, constant
