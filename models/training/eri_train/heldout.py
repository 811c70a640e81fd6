"""How a model and its teachers do on people never trained on, measured the way a user needs it.

Inputs: an extracted feature set of labelled acted clips (the MEAD clips in ../shared/testmedia), a
metadata file naming each clip's person and acted emotion, and optionally a running-estimate check (a
clip whose expression changes, e.g. distress then laughter). Scorers: the student (a model package,
run in PyTorch, which equals the server to 1e-4), each teacher candidate, and a constant baseline (the
same output for every clip: the student's mean over the clips).

Measures, each with a 95 % bootstrap interval over clips (or over pairs):
- direction: for every expressive clip of a person who also has a neutral clip, whether the mapped
  emotion's output is higher than on the neutral clip (a tie counts half);
- top-1 among the mapped emotions (chance 1 in the number of mapped emotions), raw and relative to the
  person's neutral clip;
- the running check: the mean of one emotion's running estimate in the second part of the clip minus
  the first.
"""

import math

import numpy as np
import torch

from . import safetensors_io
from .data import collate
from .teachers import EMOTIONS, clip_labels, running_labels

BOOTSTRAP = 2000


def interval(values, statistic=np.mean, seed=0):
    """Point value and 95 % percentile bootstrap interval of statistic over `values` (resampled)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return {"value": None, "low": None, "high": None, "n": 0}
    rng = np.random.default_rng(seed)
    draws = [statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(BOOTSTRAP)]
    return {
        "value": float(statistic(values)),
        "low": float(np.percentile(draws, 2.5)),
        "high": float(np.percentile(draws, 97.5)),
        "n": int(len(values)),
    }


def student_scores(model, clips):
    """clips: list of objects with .video/.audio -> [N, 7] numpy (PyTorch, eval mode, whole clips)."""
    out = []
    with torch.no_grad():
        for c in clips:
            out.append(model(*collate([c], None, model.video_dim, model.audio_dim))[0].numpy())
    return np.stack(out)


def teacher_scores(kind, clips, layout, reference, external=None):
    """A teacher's clip labels, as training uses them (NaN for a clip without a face step).
    external: {clip id: inputs} for a teacher whose inputs are not features."""
    labels = [clip_labels(kind, c.video, c.audio, layout, reference, None if external is None else external[c.id])
              for c in clips]
    return np.stack([np.full(len(EMOTIONS), np.nan) if x is None else x.numpy() for x in labels])


def measure(scores, meta, mapped):
    """scores: [N, 7] per clip in meta order; meta: [{person, acted, target}] (target None for neutral)."""
    idx = {e: EMOTIONS.index(e) for e in mapped}
    mapped_cols = [idx[e] for e in mapped]
    neutral = {m["person"]: i for i, m in enumerate(meta) if m["acted"] == "neutral" and m["person"]}
    direction, per_emotion = [], {e: [] for e in mapped}
    top1, top1_rel = [], []
    per_clip = []
    for i, m in enumerate(meta):
        if not m["target"] or np.isnan(scores[i]).any():
            continue
        s = scores[i]
        best = mapped[int(np.argmax(s[mapped_cols]))]
        top1.append(1.0 if best == m["target"] else 0.0)
        row = {"file": m["file"], "acted": m["acted"], "expected": m["target"], "top": best}
        n = neutral.get(m["person"])
        if n is not None and not np.isnan(scores[n]).any():
            delta = s - scores[n]
            d = delta[idx[m["target"]]]
            hit = 1.0 if d > 1e-9 else 0.5 if abs(d) <= 1e-9 else 0.0
            direction.append(hit)
            per_emotion[m["target"]].append(hit)
            best_rel = mapped[int(np.argmax(delta[mapped_cols]))]
            top1_rel.append(1.0 if best_rel == m["target"] else 0.0)
            row.update({"changeVsNeutral": float(d), "topVsNeutral": best_rel})
        per_clip.append(row)
    return {
        "direction": interval(direction),
        "directionPerEmotion": {e: interval(v) for e, v in per_emotion.items()},
        "top1": interval(top1),
        "top1VsNeutral": interval(top1_rel),
        "perClip": per_clip,
    }


def running_check(series, emotion, split_at):
    """series: [(window_end_s, [7 values])]; the mean of `emotion` after split_at minus before."""
    j = EMOTIONS.index(emotion)
    before = [v[j] for t, v in series if t <= split_at and not math.isnan(v[j])]
    after = [v[j] for t, v in series if t > split_at and not math.isnan(v[j])]
    if not before or not after:
        return None
    # The interval resamples the windows of each part independently (they overlap, so it is narrow).
    rng = np.random.default_rng(0)
    b, a = np.asarray(before), np.asarray(after)
    draws = [rng.choice(a, len(a)).mean() - rng.choice(b, len(b)).mean() for _ in range(BOOTSTRAP)]
    return {
        "emotion": emotion,
        "splitAtS": split_at,
        "before": float(b.mean()),
        "after": float(a.mean()),
        "margin": {"value": float(a.mean() - b.mean()), "low": float(np.percentile(draws, 2.5)),
                   "high": float(np.percentile(draws, 97.5)), "n": int(len(a) + len(b))},
    }


def teacher_running(kind, video, audio, layout, reference, window, stride, rate, external=None):
    t = video.shape[0]
    ends = list(range(stride, t + 1, stride))
    if not ends or ends[-1] != t:
        ends.append(t)
    values = running_labels(kind, video, audio, layout, ends, window, reference, external)
    return [(e / rate, values[i].tolist()) for i, e in enumerate(ends)]


def read_clip(path):
    tensors, _ = safetensors_io.read(path)
    return tensors["video"], tensors["audio"]
