"""Model packages as the TypeScript server loads them: weights.safetensors (reference names) + model.json."""

import datetime
import hashlib
import json
import os

import torch

from . import safetensors_io
from .model import EriModel

PACKAGE_FORMAT = "eri-model-package/1"


def architecture(model):
    s = model.sizes

    def branch(dim):
        return {
            "inputDim": dim,
            "hidden": s["hidden"],
            "gruLayers": s["gru_layers"],
            "depth": s["depth"],
            "heads": s["heads"],
            "dimHead": s["dim_head"],
            "mlpDim": s["mlp_dim"],
        }

    return {
        "video": branch(model.video_dim),
        "audio": branch(model.audio_dim),
        "headHidden": s["head_hidden"],
        "outputs": model.head[2].out_features,
    }


def write_package(out_dir, state_dict, model, card_fields):
    """Writes the weights, then the card with their sha256 (renamed into place last)."""
    os.makedirs(out_dir, exist_ok=True)
    weights_path = os.path.join(out_dir, "weights.safetensors")
    safetensors_io.write(weights_path, state_dict, {"format": "pt", "producer": "eri-stream models/training"})
    with open(weights_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    card = {
        "format": PACKAGE_FORMAT,
        **card_fields,
        "architecture": architecture(model),
        "weights": {"file": "weights.safetensors", "sha256": sha},
        "createdAt": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    tmp = os.path.join(out_dir, "model.json.partial")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "model.json"))
    return card


def load_package(model_dir):
    """An EriModel with a package's weights (raw-feature inputs, eval mode) and its card."""
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        card = json.load(f)
    arch = card["architecture"]
    v, a = arch["video"], arch["audio"]
    model = EriModel(
        v["inputDim"],
        a["inputDim"],
        outputs=arch["outputs"],
        hidden=v["hidden"],
        gru_layers=v["gruLayers"],
        depth=v["depth"],
        heads=v["heads"],
        dim_head=v["dimHead"],
        mlp_dim=v["mlpDim"],
        head_hidden=arch["headHidden"],
    )
    tensors, _ = safetensors_io.read(os.path.join(model_dir, card["weights"]["file"]))
    model.load_state_dict(tensors, strict=True)
    model.eval()
    return model, card


def state_dict_from_checkpoint(obj):
    """A reference state_dict out of what torch.load returned: a bare state_dict, a Lightning checkpoint
    ({'state_dict': ...}) or {'model': ...}; 'model.' / 'module.' prefixes are stripped."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise ValueError("the checkpoint holds no state_dict")
    out = {}
    for name, value in obj.items():
        if not torch.is_tensor(value):
            continue
        for prefix in ("model.", "module."):
            if name.startswith(prefix):
                name = name[len(prefix) :]
        out[name] = value.float()
    return out
