"""The challenge metric: Pearson r per emotion and their mean (ABAW5 ERI), plus MAE."""

import numpy as np


def pearson(pred, true):
    """Pearson r of two 1-d arrays; 0 when either is constant (r is undefined there)."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    p = p - p.mean()
    t = t - t.mean()
    denom = np.sqrt((p * p).sum() * (t * t).sum())
    return float((p * t).sum() / denom) if denom > 0 else 0.0


def evaluate(pred, true, emotions):
    """pred, true: [N, E]. Returns {'mean_pearson_r', 'pearson_r': {emotion: r}, 'mae'}."""
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    per = {e: pearson(pred[:, i], true[:, i]) for i, e in enumerate(emotions)}
    return {
        "mean_pearson_r": float(np.mean(list(per.values()))) if per else 0.0,
        "pearson_r": per,
        "mae": float(np.abs(pred - true).mean()) if pred.size else 0.0,
    }
