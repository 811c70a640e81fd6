"""safetensors read/write for float32 tensors, without the `safetensors` pip package.

The format: an 8-byte little-endian header length, a JSON header (dtype, shape, byte range per tensor,
optional string metadata under "__metadata__"), then the raw little-endian bytes.
"""

import json
import struct

import numpy as np
import torch

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}


class SafetensorsError(ValueError):
    pass


def read(path):
    """Returns (tensors: dict name -> float32 torch.Tensor, metadata: dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise SafetensorsError(f"{path}: too short to be a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise SafetensorsError(f"{path}: header length {n} runs past the end of the file")
    try:
        header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    except ValueError as e:
        raise SafetensorsError(f"{path}: header is not JSON ({e})") from e
    metadata = header.pop("__metadata__", {}) or {}
    data = memoryview(raw)[8 + n :]
    tensors = {}
    for name, info in header.items():
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise SafetensorsError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        if end > len(data) or start > end:
            raise SafetensorsError(f"{path}: tensor {name} byte range [{start}, {end}) is out of bounds")
        array = np.frombuffer(data[start:end], dtype=dtype).astype(np.float32)
        tensors[name] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return tensors, metadata


def write(path, tensors, metadata=None):
    """Writes float32 tensors (sorted by name, as `safetensors.torch.save_file` does) atomically."""
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        array = tensors[name].detach().cpu().contiguous().to(torch.float32).numpy()
        blob = array.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        chunks.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.partial"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in chunks:
            f.write(blob)
    import os

    os.replace(tmp, path)
