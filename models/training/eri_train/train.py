"""The seed's recipe (HKUST-NISL `main.py`, `models/eri.py`, `train_feats.sh`), exactly, by default:

L2 loss; AdamW, lr 1e-4, weight decay 0.5 (hard-coded in the seed's `configure_optimizers`); lr halved
every 10 epochs; batch 16 whole clips; dropout 0.2 on the attention probabilities, the attention output
and the MLP, 0.3 in the head; gradients clipped to norm 1.0; 100 epochs; the checkpoint with the best
validation mean Pearson r is kept, and there is no early stopping; fixed seeds.

Every setting can be overridden (`SEED_RECIPE` lists them); the card records what was used. The
settings in `PROJECT_DEFAULTS` are this project's own and off by default: modality, feature and block
dropout, feature noise, the std floor, relabelling by the features' teacher (expression permutation,
chained clips) and the feature blocks the model reads.
"""

import json
import math
import os
import random
import time

import numpy as np
import torch

from . import metrics
from .data import Clip, FeatureDataset, Normaliser, block_mask, collate
from .model import EriModel, fold_normalisation
from .package import write_package
from .teacher import TEACHER_FILE, read_teacher
from .teachers import FEATURE_TEACHERS, PERMUTABLE, Layout, clip_labels, permuted_clip

with open(os.path.join(os.path.dirname(__file__), "seed_recipe.json"), encoding="utf-8") as _f:
    SEED_RECIPE = json.load(_f)["settings"]
"""The seed's settings (the same file gives `eri train --help` its numbers). patience 0: no early
stopping; the seed keeps the checkpoint with the best validation r over all its epochs."""

PROJECT_DEFAULTS = {
    "modality_dropout": 0.0,
    "feature_dropout": 0.0,
    "block_dropout": 0.0,
    "feature_noise": 0.0,
    "expression_permutation": 0.0,
    "chain": 0.0,
    "video_blocks": None,
    "audio_blocks": None,
    "std_floor": False,
    "threads": 1,
    "train_split": "Train",
    "val_split": "Val",
}


RESUMABLE_CHANGES = ("threads", "epochs")


class TrainConfig:
    def __init__(self, **kw):
        unknown = set(kw) - set(SEED_RECIPE) - set(PROJECT_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        for name, default in {**SEED_RECIPE, **PROJECT_DEFAULTS}.items():
            value = kw.get(name)
            setattr(self, name, default if value is None else value)

    def as_dict(self):
        return dict(vars(self))

    def departures(self):
        """The settings that differ from the seed's recipe, name -> (used, seed's)."""
        return {k: (getattr(self, k), v) for k, v in SEED_RECIPE.items() if getattr(self, k) != v}

    def additions(self):
        """This project's options that are on (the seed has none of them)."""
        on = [k for k in ("modality_dropout", "feature_dropout", "block_dropout", "feature_noise",
                          "expression_permutation", "chain", "video_blocks", "audio_blocks") if getattr(self, k)]
        return on + (["std_floor"] if self.std_floor else [])

    def describe(self, train_clips, epochs_run, best_epoch):
        stop = f"patience {self.patience}" if self.patience > 0 else "no early stopping"
        departures = self.departures()
        differs = (
            "; differs from the seed's in " + ", ".join(f"{k} {u} (seed {s})" for k, (u, s) in departures.items())
            if departures
            else "; the seed's recipe exactly"
            if not self.additions()
            else "; the seed's settings exactly, with this project's " + ", ".join(self.additions())
        )
        return (
            f"L2 loss, AdamW lr {self.lr} wd {self.weight_decay}, lr x{self.lr_gamma} every {self.lr_step} epochs, "
            f"batch {self.batch} whole clips, dropout {self.dropout} (attention probabilities {self.attn_dropout}, "
            f"head {self.head_dropout}), gradient norm clipped to {self.grad_clip}, {epochs_run} of {self.epochs} "
            f"epochs, {stop}, best {self.val_split} mean Pearson r kept (epoch {best_epoch}), seed {self.seed}, "
            f"modality dropout {self.modality_dropout}, feature dropout {self.feature_dropout}, block dropout "
            f"{self.block_dropout}, feature noise {self.feature_noise}, expression permutation "
            f"{self.expression_permutation}, chained batches {self.chain}; reads "
            f"{'all video features' if self.video_blocks is None else 'video ' + '+'.join(self.video_blocks)} and "
            f"{'all audio features' if self.audio_blocks is None else 'audio ' + '+'.join(self.audio_blocks)}; inputs standardised "
            f"{'(std floored at each block median) ' if self.std_floor else ''}"
            f"on {train_clips} {self.train_split} clips, folded into the first GRU layer{differs}"
        )


def build_model(config, video_dim, audio_dim, outputs):
    return EriModel(
        video_dim,
        audio_dim,
        outputs=outputs,
        dropout=config.dropout,
        attn_dropout=config.attn_dropout,
        head_dropout=config.head_dropout,
    )


def video_blocks(spec):
    """(start, end) of each video feature block but the face flags, which say whether the rest is there."""
    out, at = [], 0
    for block in spec["video"]["layout"]:
        if block["name"] != "face":
            out.append((at, at + block["size"]))
        at += block["size"]
    return out


def feature_mask(blocks, dim, feature_p, block_p):
    """A [dim] 0/1 mask for one clip: each feature hidden with feature_p, each block with block_p. A hidden
    feature reads as its training mean, so the student cannot lean on any one block (the expression
    embedding, whose directions are particular to the training faces, above all) and has to learn the
    expression from whichever cues it is shown."""
    keep = (torch.rand(dim) >= feature_p).float() if feature_p > 0 else torch.ones(dim)
    for lo, hi in blocks:
        if block_p > 0 and torch.rand(()) < block_p:
            keep[lo:hi] = 0
    return keep


# Chains reach the server's default live window (30 s at 10 Hz), which clips of a few seconds never
# show the encoder. (For the starter model they did not improve the 30 s check; its card has the figures.)
CHAIN_MAX_STEPS = 300


class Relabeller:
    """Training clips changed and labelled again by the teacher that labelled the features (their
    teacher.json), so each label stays exactly the teacher's for what the student is shown:
    - permute(clip): with chance `permutation`, the six expression probabilities in a random order
      (teachers.permuted_clip);
    - chain(clips): clips joined end to end, labelled as the teacher labels a running window, by the
      mean over all their face steps."""

    def __init__(self, features_dir, spec, permutation=0.0):
        if not os.path.exists(os.path.join(features_dir, TEACHER_FILE)):
            raise ValueError(f"relabelling needs features labelled by a teacher (python3 -m eri_train teacher): "
                             f"{features_dir} has no {TEACHER_FILE}, so its labels are not a function of its features")
        kind, reference = read_teacher(features_dir)
        if kind not in FEATURE_TEACHERS:
            raise ValueError(f"relabelling needs a teacher of the features ({', '.join(FEATURE_TEACHERS)}); "
                             f"{features_dir} was labelled by {kind!r}")
        if permutation > 0 and kind not in PERMUTABLE:
            raise ValueError(f"expression permutation needs a teacher of the expression probabilities "
                             f"({', '.join(PERMUTABLE)}); {features_dir} was labelled by {kind!r}")
        self.permutation, self.kind, self.reference, self.layout = permutation, kind, reference, Layout(spec)

    def permute(self, clip):
        if self.permutation <= 0 or random.random() >= self.permutation:
            return clip
        video, label = permuted_clip(self.kind, clip.video, clip.audio, self.layout, random.sample(range(6), 6),
                                     self.reference)
        return Clip(clip.id, clip.split, label, video, clip.audio)

    def chain(self, clips):
        video = torch.cat([c.video for c in clips])
        audio = torch.cat([c.audio for c in clips])
        label = clip_labels(self.kind, video, audio, self.layout, self.reference)
        return Clip("+".join(c.id for c in clips), clips[0].split, label, video, audio)


def chain_batch(batch, pool, relabeller, max_steps=CHAIN_MAX_STEPS):
    """Each clip of the batch followed by random clips of the pool, up to a length drawn uniformly
    between the clip's own and max_steps (a clip already that long stays alone)."""
    out = []
    for first in batch:
        steps = first.video.shape[0]
        target = random.randint(steps, max(steps, max_steps))
        parts = [first]
        while steps < target:
            nxt = relabeller.permute(random.choice(pool))
            parts.append(nxt)
            steps += nxt.video.shape[0]
        out.append(relabeller.chain(parts))
    return out


def train_step(model, optimiser, inputs, target, grad_clip):
    """One optimiser step on the L2 loss; returns (loss, gradient norm before clipping)."""
    loss = torch.nn.functional.mse_loss(model(*inputs), target)
    optimiser.zero_grad()
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip) if grad_clip > 0 else None
    optimiser.step()
    return loss.item(), None if norm is None else float(norm)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def random_state():
    """Every generator a training step draws from: PyTorch's (dropout, noise), and Python's and NumPy's
    (modality dropout, permutation, chains), so that a resumed run goes on as the uninterrupted one would."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    # Plain numbers only, so that torch.load's weights-only mode (the default from PyTorch 2.6) reads it.
    return {"rng": torch.get_rng_state(), "py_rng": random.getstate(),
            "np_rng": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)]}


def restore_random_state(ckpt):
    torch.set_rng_state(ckpt["rng"])
    # Checkpoints written before these were saved resume with the freshly seeded generators.
    if "py_rng" in ckpt:
        random.setstate(ckpt["py_rng"])
    if "np_rng" in ckpt:
        name, keys, pos, has_gauss, gauss = ckpt["np_rng"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))


def restore_zeroed_grads(model, ckpt):
    """Before PyTorch 2.0, zero_grad() leaves zeros, not None, in every gradient it has seen, and AdamW
    steps (decay, momentum) a parameter whose gradient is zero but skips one whose gradient is None. A
    step where modality dropout blanked a branch therefore moves its weights in an uninterrupted run;
    the resumed run must hold the same zeros to move them the same way."""
    with_grad = set(ckpt.get("with_grad", []))
    for name, p in model.named_parameters():
        if name in with_grad:
            p.grad = torch.zeros_like(p)


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
    blocks = video_blocks(data.spec)
    video_keep = block_mask(data.spec["video"]["layout"], config.video_blocks, "video")
    audio_keep = block_mask(data.spec["audio"]["layout"], config.audio_blocks, "audio")
    norm = Normaliser.fit(train_clips, data.video_dim, data.audio_dim, blocks if config.std_floor else None,
                          video_keep, audio_keep)
    model = build_model(config, data.video_dim, data.audio_dim, len(data.emotions))
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimiser, step_size=config.lr_step, gamma=config.lr_gamma)
    ckpt_dir = os.path.join(out_dir, "checkpoints")
    os.makedirs(ckpt_dir, exist_ok=True)
    last_path = os.path.join(ckpt_dir, "last.pt")
    state = {"epoch": 0, "best": -math.inf, "best_epoch": 0, "history": []}
    best_weights = None
    relabeller = (Relabeller(features_dir, data.spec, config.expression_permutation)
                  if config.expression_permutation > 0 or config.chain > 0 else None)
    if os.path.exists(last_path):
        ckpt = torch.load(last_path)
        # A rerun resumes an interrupted run (or extends it by more epochs), never one with other
        # settings; the thread count changes no result.
        settings = {k: v for k, v in config.as_dict().items() if k not in RESUMABLE_CHANGES}
        saved = {k: v for k, v in ckpt.get("config", {}).items() if k not in RESUMABLE_CHANGES}
        if saved != settings:
            changed = sorted(k for k in settings.keys() | saved.keys() if settings.get(k) != saved.get(k))
            raise ValueError(f"{last_path} was trained with other settings ({', '.join(changed)}): "
                             f"remove {ckpt_dir} to start again, or rerun with the same settings")
        model.load_state_dict(ckpt["model"])
        optimiser.load_state_dict(ckpt["optimiser"])
        scheduler.load_state_dict(ckpt["scheduler"])
        restore_random_state(ckpt)
        restore_zeroed_grads(model, ckpt)
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
            if relabeller:
                batch = [relabeller.permute(c) for c in batch]
                if config.chain > 0 and random.random() < config.chain:
                    batch = chain_batch(batch, train_clips, relabeller)
            target = torch.stack([c.labels for c in batch])
            drop = None
            if config.modality_dropout > 0:
                def drop(_k):
                    r = random.random()
                    if r < config.modality_dropout / 2:
                        return "video"
                    if r < config.modality_dropout:
                        return "audio"
                    return None
            mask = None
            if config.feature_dropout > 0 or config.block_dropout > 0:
                def mask(_k):
                    return feature_mask(blocks, data.video_dim, config.feature_dropout, config.block_dropout)
            inputs = collate(batch, norm, data.video_dim, data.audio_dim, drop, mask)
            if config.feature_noise > 0:
                # Gaussian noise on the standardised video: the student must not hang on small differences
                # that, on the training faces, happen to go with the labels.
                video = inputs[0]
                inputs = (video + config.feature_noise * torch.randn_like(video), *inputs[1:])
            loss, _ = train_step(model, optimiser, inputs, target, config.grad_clip)
            losses.append(loss)
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
                **random_state(),
                "with_grad": [n for n, p in model.named_parameters() if p.grad is not None],
                "state": state,
                "config": config.as_dict(),
            },
            last_path,
        )
        log(
            f"epoch {epoch:3d}  loss {record['train_loss']:.5f}  val r {val['mean_pearson_r']:.4f}"
            f"  mae {val['mae']:.4f}  {'*' if improved else ' '}  {record['seconds']} s"
        )
        if config.patience > 0 and epoch - state["best_epoch"] >= config.patience:
            log(f"early stop: no better validation r for {config.patience} epochs")
            break

    model.load_state_dict(best_weights)
    val_pred = predict(model, val_clips, norm, data.video_dim, data.audio_dim).numpy()
    val = metrics.evaluate(val_pred, val_true, data.emotions)
    constant = metrics.evaluate(
        np.tile(torch.stack([c.labels for c in train_clips]).mean(0).numpy(), (len(val_clips), 1)), val_true, data.emotions
    )
    teacher_file = os.path.join(features_dir, "teacher.json")
    teacher = None
    if os.path.exists(teacher_file):
        with open(teacher_file, encoding="utf-8") as f:
            teacher = json.load(f)["kind"]
    exported = {k: v.clone() for k, v in model.state_dict().items()}
    # Features the model never read get no input weight, so the package ignores them on any input.
    exported["rnn.weight_ih_l0"] *= norm.video_keep[None, :]
    exported["rnn_aud.weight_ih_l0"] *= norm.audio_keep[None, :]
    exported = fold_normalisation(exported, "rnn", norm.video_mean, norm.video_std)
    exported = fold_normalisation(exported, "rnn_aud", norm.audio_mean, norm.audio_std)
    split = config.val_split
    card = write_package(
        out_dir,
        exported,
        model,
        {
            **card_fields,
            "trained": True,
            # Labels written by a teacher (eri_train teacher) make a proxy model: the card and pages say so.
            "proxy": teacher is not None,
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
                "recipe": config.describe(len(train_clips), state["epoch"], state["best_epoch"]),
                "settings": {
                    **config.as_dict(),
                    "epochs_run": state["epoch"],
                    "best_epoch": state["best_epoch"],
                    **({"teacher": teacher} if teacher else {}),
                },
            },
        },
    )
    with open(os.path.join(out_dir, "training-log.json"), "w", encoding="utf-8") as f:
        json.dump({"config": config.as_dict(), "history": state["history"], "best_epoch": state["best_epoch"],
                   "val": val, "constant_baseline": constant, "train_clips": len(train_clips),
                   "val_clips": len(val_clips)}, f, indent=2)
    return card, val, constant
