"""Feature datasets written by `eri extract`: an index.json plus one safetensors file per clip."""

import json
import os

import torch

from . import safetensors_io

INDEX_FORMAT = "eri-features-index/1"


class DatasetError(ValueError):
    pass


class Clip:
    __slots__ = ("id", "split", "labels", "video", "audio")

    def __init__(self, clip_id, split, labels, video, audio):
        self.id = clip_id
        self.split = split
        self.labels = labels
        self.video = video
        self.audio = audio


class FeatureDataset:
    """All clips of an extracted dataset, loaded into memory (features are small: ~2 KB per step)."""

    def __init__(self, root):
        self.root = root
        path = os.path.join(root, "index.json")
        try:
            with open(path, encoding="utf-8") as f:
                self.index = json.load(f)
        except (OSError, ValueError) as e:
            raise DatasetError(f"{root} is not an extracted feature set: cannot read index.json ({e})") from e
        if self.index.get("format") != INDEX_FORMAT:
            raise DatasetError(f"{path}: format {self.index.get('format')!r}, expected {INDEX_FORMAT!r}")
        self.spec = self.index["featureSpec"]
        self.emotions = self.index["emotions"]
        self.video_dim = self.spec["video"]["dim"]
        self.audio_dim = self.spec["audio"]["dim"]
        self.clips = [self._load(entry) for entry in self.index["clips"]]

    def _load(self, entry):
        tensors, _ = safetensors_io.read(os.path.join(self.root, entry["file"]))
        video = tensors.get("video", torch.zeros(0, self.video_dim))
        audio = tensors.get("audio", torch.zeros(0, self.audio_dim))
        if video.shape[1] != self.video_dim or audio.shape[1] != self.audio_dim:
            raise DatasetError(f"{entry['file']}: feature widths {video.shape[1]}/{audio.shape[1]} differ from the index's spec")
        labels = entry.get("labels")
        return Clip(entry["id"], entry["split"], None if labels is None else torch.tensor(labels, dtype=torch.float32), video, audio)

    def split(self, name):
        """Clips of a split (case-insensitive: Hume-Reaction writes Train/Val/Test)."""
        return [c for c in self.clips if c.split.lower() == name.lower()]


class Normaliser:
    """Per-feature mean and std over the training clips' steps (std 1 where a feature is constant)."""

    def __init__(self, video_mean, video_std, audio_mean, audio_std, video_keep=None, audio_keep=None):
        self.video_mean, self.video_std = video_mean, video_std
        self.audio_mean, self.audio_std = audio_mean, audio_std
        # 0/1 per feature: a 0 reads as the training mean (0 after standardisation) always, so the model
        # never sees that feature (the export zeroes its input weights to match).
        self.video_keep = torch.ones_like(video_mean) if video_keep is None else video_keep
        self.audio_keep = torch.ones_like(audio_mean) if audio_keep is None else audio_keep

    def video(self, x):
        return (x - self.video_mean) / self.video_std * self.video_keep

    def audio(self, x):
        return (x - self.audio_mean) / self.audio_std * self.audio_keep

    @staticmethod
    def _stats(mats, dim):
        rows = [m for m in mats if m.shape[0] > 0]
        if not rows:
            return torch.zeros(dim), torch.ones(dim)
        x = torch.cat(rows).double()
        mean = x.mean(0)
        std = x.std(0, unbiased=False)
        std = torch.where(std > 1e-6, std, torch.ones_like(std))
        return mean.float(), std.float()

    @classmethod
    def fit(cls, clips, video_dim, audio_dim, video_blocks=None, video_keep=None, audio_keep=None):
        """video_blocks: (start, end) spans whose std is floored at the span's median std, so a feature
        that barely varies in the training clips (few faces, little pose) does not turn an ordinary value
        on a new face into a z-score of 100."""
        vm, vs = cls._stats([c.video for c in clips], video_dim)
        am, as_ = cls._stats([c.audio for c in clips], audio_dim)
        for lo, hi in video_blocks or []:
            vs[lo:hi] = torch.clamp(vs[lo:hi], min=float(vs[lo:hi].median()))
        return cls(vm, vs, am, as_, video_keep, audio_keep)


def block_mask(layout, names, what):
    """A [dim] 0/1 vector: 1 on the features of the named blocks of a spec's layout (all when None)."""
    dim = sum(b["size"] for b in layout)
    if names is None:
        return torch.ones(dim)
    known = [b["name"] for b in layout]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DatasetError(f"the feature spec's {what} has no block {', '.join(unknown)} (it has {', '.join(known)})")
    keep, at = torch.zeros(dim), 0
    for b in layout:
        if b["name"] in names:
            keep[at : at + b["size"]] = 1
        at += b["size"]
    return keep


def pad(mats, dim):
    """Pads [T_i, D] matrices at the end into [B, max T, D]; returns (batch, lengths)."""
    lengths = torch.tensor([m.shape[0] for m in mats], dtype=torch.long)
    t = int(lengths.max()) if len(mats) else 0
    out = torch.zeros(len(mats), t, dim)
    for i, m in enumerate(mats):
        out[i, : m.shape[0]] = m
    return out, lengths


def collate(clips, norm, video_dim, audio_dim, drop=None, video_mask=None):
    """A batch of whole clips, normalised; `drop(i)` may return 'video'/'audio' to blank a modality, and
    `video_mask(i)` a [video_dim] 0/1 vector that sets those video features to their training mean (0
    after standardisation) for the whole clip: feature dropout."""
    videos, audios = [], []
    for i, c in enumerate(clips):
        v = norm.video(c.video) if norm else c.video
        a = norm.audio(c.audio) if norm else c.audio
        if video_mask is not None:
            v = v * video_mask(i)
        blank = drop(i) if drop else None
        videos.append(v[:0] if blank == "video" else v)
        audios.append(a[:0] if blank == "audio" else a)
    video, video_len = pad(videos, video_dim)
    audio, audio_len = pad(audios, audio_dim)
    return video, video_len, audio, audio_len
