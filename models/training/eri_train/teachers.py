"""Teacher candidates for the starter model: per-step proxy labels computed from the extractor's features.

No self-reported reaction intensities exist where the starter model is built, so its labels come from a
teacher: a fixed function of what the extractor measures in each step with a face, averaged over a clip
(or over the live window). The candidates, measured against each other on held-out people
(`eri_train heldout`) before one is chosen:

- `expr`: the expression network inside the features (mini-Xception probabilities p: angry, disgust,
  fear, happy, sad, surprise, neutral) and the voice activity v, mapped as before (see EXPR_MAP).
- `facs`: FACS prototype cues from the mesh-based action units (Ekman and Friesen's EMFACS
  prototypes): each emotion's units standardised against a reference population of steps, averaged, and
  squashed by a fixed logistic. No weight is fitted to any labelled data.
- `combo`: the mean of the two.
- `faceapi`: a second expression model shipped in npm, @vladmandic/face-api (its own face detector and
  expression net, run on the video frames by models/starter/faceapi-teacher.mjs), through the same map
  as `expr`. Its per-step probabilities are not features: they come from `faceapi.json` beside the
  features, and its face steps are the steps where it found a face.

Every teacher returns values in [0, 1] in the index's emotion order.
"""

import json
import math
import os

import torch

EXPRESSIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
EMOTIONS = ["Adoration", "Amusement", "Anxiety", "Disgust", "Empathic-Pain", "Fear", "Surprise"]
AUS = [
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
    "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45",
]

# EMFACS prototypes (Ekman & Friesen; Matsumoto & Ekman): the action units whose joint activation marks
# each basic expression. Surprise, fear, sadness and disgust use the core units; happiness is the
# Duchenne smile (cheek raise + lip corner pull).
PROTOTYPES = {
    "happiness": ["AU06", "AU12"],
    "laughter": ["AU06", "AU12", "AU25", "AU26"],
    "surprise": ["AU01", "AU02", "AU05", "AU26"],
    "fear": ["AU01", "AU02", "AU04", "AU05", "AU07", "AU20", "AU26"],
    "sadness": ["AU01", "AU04", "AU15", "AU17"],
    "disgust": ["AU09", "AU10", "AU15", "AU17"],
}

# The logistic that turns a prototype's mean z-score into [0, 1]: 0.5 at one standard deviation above
# the reference population's mean, 0.88 at two. Fixed a priori, not fitted.
FACS_CENTRE = 1.0
FACS_SLOPE = 2.0


def offset(layout, name):
    at = 0
    for block in layout:
        if block["name"] == name:
            return at
        at += block["size"]
    raise ValueError(f"the feature spec has no block {name!r}")


class Layout:
    """Where each teacher input sits in a spec's video and audio rows."""

    def __init__(self, spec):
        if not spec["id"].startswith("eri-face-audio-v2"):
            raise ValueError(f"teacher labels need eri-face-audio-v2 features, not {spec['id']}")
        video, audio = spec["video"]["layout"], spec["audio"]["layout"]
        self.probs = offset(video, "expression_probs")
        self.aus = offset(video, "action_units")
        self.face = offset(video, "face")
        self.vad = offset(audio, "voice_activity")

    def face_steps(self, video):
        return video[:, self.face] > 0.5

    def au_matrix(self, video):
        return video[:, self.aus : self.aus + len(AUS)]


class AuReference:
    """Mean and std of each action unit over a population of face steps (the facs teacher's z-scores)."""

    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    @classmethod
    def fit(cls, videos, layout):
        rows = [layout.au_matrix(v[layout.face_steps(v)]) for v in videos]
        rows = [r for r in rows if r.shape[0] > 0]
        if not rows:
            raise ValueError("no face steps to take the action units' reference statistics from")
        x = torch.cat(rows).double()
        std = x.std(0, unbiased=False)
        return cls(x.mean(0).float(), torch.where(std > 1e-6, std, torch.ones_like(std)).float())

    def as_dict(self):
        return {"aus": AUS, "mean": [round(float(x), 6) for x in self.mean], "std": [round(float(x), 6) for x in self.std]}

    @classmethod
    def from_dict(cls, d):
        return cls(torch.tensor(d["mean"]), torch.tensor(d["std"]))


def expr_labels(p, v):
    """p: [T, 7] expression probabilities, v: [T] voice activity -> [T, 7]."""
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


def facs_labels(aus, v, reference):
    """aus: [T, 17] raw action units, v: [T] voice activity -> [T, 7]."""
    z = (aus - reference.mean) / reference.std

    def proto(name):
        idx = [AUS.index(a) for a in PROTOTYPES[name]]
        return torch.sigmoid(FACS_SLOPE * (z[:, idx].mean(-1) - FACS_CENTRE))

    happy, laugh = proto("happiness"), proto("laughter")
    surprise, fear, sad, disgust = proto("surprise"), proto("fear"), proto("sadness"), proto("disgust")
    return torch.stack(
        [
            happy * (1 - 0.5 * v),  # Adoration: a smile, quieter when talking
            torch.maximum(laugh, happy * (0.6 + 0.4 * v)),  # Amusement: a laughing face or a vocal smile
            0.5 * fear + 0.5 * sad,  # Anxiety
            disgust,
            sad,  # Empathic-Pain
            fear,
            surprise,
        ],
        dim=-1,
    ).clamp(0, 1)


TEACHERS = ("expr", "facs", "combo", "faceapi")

# Teachers whose per-step inputs come from a file beside the features rather than from the features.
EXTERNAL_FILES = {"faceapi": "faceapi.json"}
# face-api's names for EXPRESSIONS, in that order: the order faceapi-teacher.mjs writes and states.
FACEAPI_EXPRESSIONS = ["angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral"]


def read_external(path):
    """A faceapi-teacher.mjs file -> {clip id: [T, 7] tensor} (or the one clip's tensor for a --video
    file), in EXPRESSIONS order, NaN rows where nothing was found or analysed."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if data.get("expressions") != FACEAPI_EXPRESSIONS:
        raise ValueError(f"{path}: expressions must be in eri_train's EXPRESSIONS order")

    def rows(steps):
        return torch.tensor([[math.nan] * 7 if s is None else s for s in steps], dtype=torch.float32).reshape(-1, 7)

    if "steps" in data:
        return rows(data["steps"])
    return {cid: rows(steps) for cid, steps in data["clips"].items()}


def external_inputs(kind, features_dir):
    """The per-clip inputs of an external teacher, read from its file beside the features (else None)."""
    name = EXTERNAL_FILES.get(kind)
    if name is None:
        return None
    path = os.path.join(features_dir, name)
    if not os.path.exists(path):
        raise ValueError(f"teacher {kind!r} needs {path} (node models/starter/faceapi-teacher.mjs)")
    return read_external(path)


def teacher_face_steps(kind, video, layout, external=None):
    """The steps a teacher labels: where the extractor found a face, or where the external model did."""
    if kind in EXTERNAL_FILES:
        if external is None or external.shape[0] != video.shape[0]:
            raise ValueError(f"teacher {kind!r} needs one row of its inputs per feature step")
        return ~torch.isnan(external[:, 0])
    return layout.face_steps(video)


def step_labels(kind, video, audio, layout, reference=None, external=None):
    """Per-step labels [T, 7] of teacher `kind` for the steps of one clip (all of them, face or not)."""
    v = audio[:, layout.vad] if audio.shape[0] == video.shape[0] else torch.zeros(video.shape[0])
    if kind == "expr":
        return expr_labels(video[:, layout.probs : layout.probs + 7], v)
    if kind == "faceapi":
        teacher_face_steps(kind, video, layout, external)  # refuses inputs that do not line up
        return expr_labels(torch.nan_to_num(external, nan=0.0), v)
    if reference is None:
        raise ValueError(f"teacher {kind!r} needs the action units' reference statistics")
    facs = facs_labels(layout.au_matrix(video), v, reference)
    if kind == "facs":
        return facs
    if kind == "combo":
        return 0.5 * (facs + expr_labels(video[:, layout.probs : layout.probs + 7], v))
    raise ValueError(f"unknown teacher {kind!r}: one of {', '.join(TEACHERS)}")


def clip_labels(kind, video, audio, layout, reference=None, external=None):
    """The clip's label: the mean over its face steps, or None when no step has a face."""
    face = teacher_face_steps(kind, video, layout, external)
    if not bool(face.any()):
        return None
    return step_labels(kind, video, audio, layout, reference, external)[face].mean(0)


# Teachers whose labels are a function of the features, so a changed training clip can be labelled
# again exactly; of those, the ones that read the expression probabilities (see permuted_clip).
FEATURE_TEACHERS = ("expr", "facs", "combo")
PERMUTABLE = ("expr", "combo")


def permuted_clip(kind, video, audio, layout, perm, reference=None):
    """The clip with its six emotional expression probabilities permuted (neutral stays), and the
    teacher's label for it: (video, label or None). perm: the new order of EXPRESSIONS[:6].

    The two training faces show each expression with their own face, mesh and embedding, so any of
    those predicts the teacher's label there as well as the probabilities do, and a student may learn
    the face instead of the probabilities; on new people the face no longer says it. On a permuted copy
    only the probabilities say what the label is."""
    if kind not in PERMUTABLE:
        raise ValueError(f"teacher {kind!r}: its labels are not a function of the expression probabilities")
    if sorted(perm) != list(range(6)):
        raise ValueError(f"not a permutation of the six expressions: {perm}")
    out = video.clone()
    out[:, layout.probs : layout.probs + 6] = video[:, [layout.probs + i for i in perm]]
    return out, clip_labels(kind, out, audio, layout, reference)


def running_labels(kind, video, audio, layout, ends, window, reference=None, external=None):
    """The teacher's running estimate at each window end (steps): the mean over the window's face steps."""
    face = teacher_face_steps(kind, video, layout, external)
    per_step = step_labels(kind, video, audio, layout, reference, external)
    out = []
    for end in ends:
        lo = max(0, end - window)
        f = face[lo:end]
        out.append(per_step[lo:end][f].mean(0) if bool(f.any()) else torch.full((7,), math.nan))
    return torch.stack(out) if out else torch.zeros(0, 7)
