"""Whole (tiny) training runs: a rerun resumes an interrupted run with the same settings and refuses one
whose settings differ; a model told to read only some feature blocks ignores the others, exported too."""

import io
import json
import os
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

import torch

from eri_train import safetensors_io
from eri_train.__main__ import main
from eri_train.data import INDEX_FORMAT, DatasetError
from eri_train.package import load_package
from eri_train.train import TrainConfig, train

EMOTIONS = ["Adoration", "Amusement", "Anxiety", "Disgust", "Empathic-Pain", "Fear", "Surprise"]
SPEC = {"id": "test", "video": {"dim": 3, "layout": [{"name": "x", "size": 2}, {"name": "z", "size": 1}]},
        "audio": {"dim": 2, "layout": [{"name": "y", "size": 2}]}}


def dataset():
    d = tempfile.mkdtemp()
    g = torch.Generator().manual_seed(0)
    clips = []
    for i, split in enumerate(["Train", "Train", "Val", "Val"]):
        name = f"c{i}.safetensors"
        safetensors_io.write(os.path.join(d, name), {"video": torch.randn(6, 3, generator=g),
                                                     "audio": torch.randn(6, 2, generator=g)})
        clips.append({"id": f"c{i}", "split": split, "file": name,
                      "labels": torch.rand(7, generator=g).tolist()})
    with open(os.path.join(d, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"format": INDEX_FORMAT, "featureSpec": SPEC, "emotions": EMOTIONS, "clips": clips}, f)
    return d


class Resume(unittest.TestCase):
    def setUp(self):
        self.features, self.out = dataset(), tempfile.mkdtemp()
        self.fields = {"name": "t", "version": "1.0.0", "description": "test", "licence": "MIT"}

    def run_train(self, **settings):
        with redirect_stdout(io.StringIO()):
            return train(self.features, self.out, TrainConfig(**settings), self.fields, log=lambda _m: None)

    def test_same_settings_resume_and_more_epochs_extend(self):
        self.run_train(epochs=1)
        self.run_train(epochs=2)
        with open(os.path.join(self.out, "training-log.json"), encoding="utf-8") as f:
            self.assertEqual([r["epoch"] for r in json.load(f)["history"]], [1, 2])

    def test_a_resumed_run_goes_on_as_the_uninterrupted_one(self):
        # Modality dropout draws from Python's generator, which a rerun seeds afresh, and a branch it
        # blanks keeps zero gradients that AdamW still steps: the checkpoint must carry both.
        settings = {"modality_dropout": 0.9, "feature_noise": 0.5}
        whole = self.out
        self.run_train(epochs=3, **settings)
        self.out = tempfile.mkdtemp()
        self.run_train(epochs=1, **settings)
        self.run_train(epochs=3, **settings)
        a = torch.load(os.path.join(whole, "checkpoints", "last.pt"))["model"]
        b = torch.load(os.path.join(self.out, "checkpoints", "last.pt"))["model"]
        self.assertEqual(a.keys(), b.keys())
        for k in a:
            self.assertTrue(torch.equal(a[k], b[k]), k)

    def test_other_settings_are_refused(self):
        self.run_train(epochs=1)
        with self.assertRaisesRegex(ValueError, "feature_noise"):
            self.run_train(epochs=1, feature_noise=0.5)


class InputBlocks(unittest.TestCase):
    def setUp(self):
        self.features, self.out = dataset(), tempfile.mkdtemp()
        self.fields = {"name": "t", "version": "1.0.0", "description": "test", "licence": "MIT"}

    def test_the_package_ignores_blocks_it_was_not_given(self):
        with redirect_stdout(io.StringIO()):
            train(self.features, self.out, TrainConfig(epochs=1, video_blocks=["x"]), self.fields, log=lambda _m: None)
        model, card = load_package(self.out)
        self.assertEqual(card["training"]["settings"]["video_blocks"], ["x"])
        g = torch.Generator().manual_seed(1)
        video, audio = torch.randn(1, 6, 3, generator=g), torch.randn(1, 6, 2, generator=g)
        other = video.clone()
        other[..., 2] = 1000.0  # block z
        lengths = torch.tensor([6])
        with torch.no_grad():
            a = model(video, lengths, audio, lengths)
            b = model(other, lengths, audio, lengths)
            other[..., 0] += 1.0  # block x is read
            c = model(other, lengths, audio, lengths)
        self.assertTrue(torch.equal(a, b))
        self.assertFalse(torch.allclose(a, c))

    def test_an_unknown_block_is_refused(self):
        with self.assertRaisesRegex(DatasetError, "no block nope"):
            train(self.features, self.out, TrainConfig(epochs=1, audio_blocks=["nope"]), self.fields, log=lambda _m: None)

    def test_the_cli_reads_block_lists_as_eri_train_does(self):
        err = io.StringIO()
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            self.assertEqual(main(["train", self.features, "--out", self.out, "--epochs", "1",
                                   "--video-blocks", "x, z", "--audio-blocks", " y"]), 0)
            self.assertEqual(main(["train", self.features, "--out", tempfile.mkdtemp(), "--epochs", "1",
                                   "--video-blocks", "x, nope"]), 1)
        _, card = load_package(self.out)
        self.assertEqual(card["training"]["settings"]["video_blocks"], ["x", "z"])
        self.assertEqual(card["training"]["settings"]["audio_blocks"], ["y"])
        self.assertIn("no block nope", err.getvalue())


if __name__ == "__main__":
    unittest.main()
