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

    def __init__(self, video_mean, video_std, audio_mean, audio_std):
        self.video_mean, self.video_std = video_mean, video_std
        self.audio_mean, self.audio_std = audio_mean, audio_std

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
    def fit(cls, clips, video_dim, audio_dim, video_blocks=None):
        """video_blocks: (start, end) spans whose std is floored at the span's median std, so a feature
        that barely varies in the training clips (few faces, little pose) does not turn an ordinary value
        on a new face into a z-score of 100."""
        vm, vs = cls._stats([c.video for c in clips], video_dim)
        am, as_ = cls._stats([c.audio for c in clips], audio_dim)
        for lo, hi in video_blocks or []:
            vs[lo:hi] = torch.clamp(vs[lo:hi], min=float(vs[lo:hi].median()))
        return cls(vm, vs, am, as_)


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
        v = (c.video - norm.video_mean) / norm.video_std if norm else c.video
        a = (c.audio - norm.audio_mean) / norm.audio_std if norm else c.audio
        if video_mask is not None:
            v = v * video_mask(i)
        blank = drop(i) if drop else None
        videos.append(v[:0] if blank == "video" else v)
        audios.append(a[:0] if blank == "audio" else a)
    video, video_len = pad(videos, video_dim)
    audio, audio_len = pad(audios, audio_dim)
    return video, video_len, audio, audio_len
