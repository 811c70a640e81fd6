"""Teacher labels for the starter model: a documented, reproducible proxy for Hume-Reaction intensities.

No Hume-Reaction labels exist where the starter model is built, so each clip's 7 labels are computed
from what the server's own extractor measured in it: per step with a face, the expression network's
probabilities p (angry, disgust, fear, happy, sad, surprise, neutral) and the voice activity v, mapped by

    Adoration      0.7 happy (1 - 0.5 v)           a warm smile, quieter when talking
    Amusement      happy (0.6 + 0.4 v)             a smile, stronger when vocalising (laughter)
    Anxiety        0.5 fear + 0.3 sad + 0.2 angry
    Disgust        0.8 disgust + 0.2 angry
    Empathic-Pain  0.8 sad + 0.2 fear
    Fear           0.8 fear + 0.2 surprise
    Surprise       surprise (0.7 + 0.3 v)

then averaged over the clip's face steps (clips with no face step get no labels). Every weight row sums to
at most 1, so labels stay in [0, 1]. This is a distillation of a frame-level expression classifier into
the temporal model, not a measure of self-reported reaction intensity.
"""

import json
import os
import shutil

import torch

from . import safetensors_io

EXPRESSIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def _offset(layout, name):
    offset = 0
    for block in layout:
        if block["name"] == name:
            return offset
        offset += block["size"]
    raise ValueError(f"the feature spec has no block {name!r}")


def step_labels(p, v):
    """p: [T, 7] expression probabilities, v: [T] voice activity -> [T, 7] in the index's emotion order."""
    angry, disgust, fear, happy, sad, surprise, _neutral = p.unbind(-1)
    return torch.stack(
        [
            0.7 * happy * (1 - 0.5 * v),
            happy * (0.6 + 0.4 * v),
            0.5 * fear + 0.3 * sad + 0.2 * angry,
            0.8 * disgust + 0.2 * angry,
            0.8 * sad + 0.2 * fear,
            0.8 * fear + 0.2 * surprise,
            surprise * (0.7 + 0.3 * v),
        ],
        dim=-1,
    ).clamp(0, 1)


def label_features(features_dir):
    """Writes teacher labels into index.json (the unlabelled index is kept as index.unlabelled.json)."""
    path = os.path.join(features_dir, "index.json")
    original = os.path.join(features_dir, "index.unlabelled.json")
    if not os.path.exists(original):
        shutil.copyfile(path, original)
    with open(original, encoding="utf-8") as f:
        index = json.load(f)
    spec = index["featureSpec"]
    if spec["id"] != "eri-face-audio-v2":
        raise ValueError(f"teacher labels need eri-face-audio-v2 features, not {spec['id']}")
    probs_at = _offset(spec["video"]["layout"], "expression_probs")
    face_at = _offset(spec["video"]["layout"], "face")
    vad_at = _offset(spec["audio"]["layout"], "voice_activity")
    kept, dropped = [], []
    for clip in index["clips"]:
        tensors, _ = safetensors_io.read(os.path.join(features_dir, clip["file"]))
        video, audio = tensors["video"], tensors["audio"]
        face = video[:, face_at] > 0.5
        if not bool(face.any()):
            dropped.append(clip)
            continue
        labels = step_labels(video[face, probs_at : probs_at + 7], audio[face, vad_at]).mean(0)
        kept.append({**clip, "labels": [round(float(x), 6) for x in labels]})
    index["clips"] = kept
    index["failed"] = index["failed"] + [
        {"id": c["id"], "split": c["split"], "source": c["source"], "code": "ERI_ERR_DATASET",
         "message": "no face in any step: no teacher label"}
        for c in dropped
    ]
    tmp = path + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    return len(kept), dropped
