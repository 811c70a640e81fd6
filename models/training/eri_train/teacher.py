"""Writes a teacher's proxy labels into an extracted feature set (the starter model's training labels).

The teachers are in `teachers.py`. Each clip's label is the teacher's mean over the clip's face steps;
clips with no face step get none and are listed as failed. The action units' reference statistics (the
facs teacher's z-scores) are taken from the labelled set's own Train split and saved next to the index
as `teacher.json`, so the same teacher can be applied to held-out clips (`eri_train heldout`).
"""

import json
import os
import shutil

from . import safetensors_io
from .teachers import TEACHERS, AuReference, Layout, clip_labels, external_inputs

TEACHER_FILE = "teacher.json"


def read_teacher(path):
    """A teacher.json (or the feature set holding one): its kind and reference statistics."""
    if os.path.isdir(path):
        path = os.path.join(path, TEACHER_FILE)
    with open(path, encoding="utf-8") as f:
        t = json.load(f)
    return t["kind"], AuReference.from_dict(t["reference"])


def label_features(features_dir, kind="expr"):
    """Writes teacher labels into index.json (the unlabelled index is kept as index.unlabelled.json)."""
    if kind not in TEACHERS:
        raise ValueError(f"unknown teacher {kind!r}: one of {', '.join(TEACHERS)}")
    path = os.path.join(features_dir, "index.json")
    original = os.path.join(features_dir, "index.unlabelled.json")
    with open(path, encoding="utf-8") as f:
        fresh = not any(c.get("labels") for c in json.load(f)["clips"])
    # A fresh (re-)extraction has no labels yet: it becomes the unlabelled index, never a stale copy.
    if fresh or not os.path.exists(original):
        shutil.copyfile(path, original)
    with open(original, encoding="utf-8") as f:
        index = json.load(f)
    layout = Layout(index["featureSpec"])
    loaded = [(clip, safetensors_io.read(os.path.join(features_dir, clip["file"]))[0]) for clip in index["clips"]]
    reference = AuReference.fit([t["video"] for c, t in loaded if c["split"].lower() == "train"] or
                                [t["video"] for _, t in loaded], layout)
    external = external_inputs(kind, features_dir)
    kept, dropped = [], []
    for clip, tensors in loaded:
        ext = None if external is None else external.get(clip["id"])
        if external is not None and ext is None:
            raise ValueError(f"{clip['id']}: no {kind} teacher inputs (rerun models/starter/faceapi-teacher.mjs)")
        labels = clip_labels(kind, tensors["video"], tensors["audio"], layout, reference, ext)
        if labels is None:
            dropped.append(clip)
            continue
        kept.append({**clip, "labels": [round(float(x), 6) for x in labels]})
    index["clips"] = kept
    index["failed"] = index["failed"] + [
        {"id": c["id"], "split": c["split"], "source": c["source"], "code": "ERI_ERR_DATASET",
         "message": f"no face in any step the {kind} teacher analysed: no teacher label"}
        for c in dropped
    ]
    with open(os.path.join(features_dir, TEACHER_FILE), "w", encoding="utf-8") as f:
        json.dump({"kind": kind, "reference": reference.as_dict()}, f, indent=1)
    tmp = path + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    return len(kept), dropped
