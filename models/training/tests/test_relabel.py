"""Training clips changed by the trainer (permuted, chained) carry exactly the label their teacher gives
what the student is shown."""

import json
import os
import random
import tempfile
import unittest

import torch

from eri_train.data import Clip
from eri_train.teachers import AUS, EXPRESSIONS, clip_labels, expr_labels
from eri_train.train import Relabeller, chain_batch

SPEC = {
    "id": "eri-face-audio-v2-test",
    "video": {"layout": [{"name": "face", "size": 1}, {"name": "expression_probs", "size": 7},
                         {"name": "action_units", "size": len(AUS)}]},
    "audio": {"layout": [{"name": "voice_activity", "size": 1}]},
}
VIDEO_DIM = 1 + 7 + len(AUS)


def features_dir(kind):
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "teacher.json"), "w", encoding="utf-8") as f:
        json.dump({"kind": kind, "reference": {"aus": AUS, "mean": [0.0] * len(AUS), "std": [1.0] * len(AUS)}}, f)
    return d


def clip(name, expression, steps, faces):
    """A clip showing one expression on its face steps (the first `faces` of `steps`), speaking throughout."""
    video = torch.zeros(steps, VIDEO_DIM)
    video[:faces, 0] = 1
    video[:, 1 + EXPRESSIONS.index(expression)] = 1
    audio = torch.ones(steps, 1)
    label = clip_labels("expr", video, audio, Relabeller(features_dir("expr"), SPEC).layout)
    return Clip(name, "Train", label, video, audio)


class Chains(unittest.TestCase):
    def setUp(self):
        random.seed(0)
        self.relabeller = Relabeller(features_dir("expr"), SPEC)
        self.happy = clip("happy", "happy", 10, 10)
        self.fear = clip("fear", "fear", 10, 5)

    def test_a_chain_is_labelled_as_a_running_window(self):
        chained = self.relabeller.chain([self.happy, self.fear])
        self.assertEqual(chained.video.shape[0], 20)
        # The mean over all 15 face steps: 10 happy, 5 fearful, so not the mean of the clips' labels.
        happy = expr_labels(torch.eye(7)[[EXPRESSIONS.index("happy")]], torch.ones(1))[0]
        fear = expr_labels(torch.eye(7)[[EXPRESSIONS.index("fear")]], torch.ones(1))[0]
        self.assertTrue(torch.allclose(chained.labels, (10 * happy + 5 * fear) / 15))
        self.assertFalse(torch.allclose(chained.labels, (happy + fear) / 2))

    def test_a_batch_of_chains_starts_with_its_clips_and_stops_at_the_window(self):
        out = chain_batch([self.happy, self.fear], [self.happy, self.fear], self.relabeller, max_steps=35)
        self.assertEqual(len(out), 2)
        for first, chained in zip([self.happy, self.fear], out):
            self.assertTrue(chained.id.startswith(first.id))
            self.assertTrue(torch.equal(chained.video[:10], first.video))
            self.assertGreaterEqual(chained.video.shape[0], 10)
            self.assertLess(chained.video.shape[0], 35 + 10)
            self.assertEqual(chained.audio.shape[0], chained.video.shape[0])

    def test_a_clip_longer_than_the_window_stays_alone(self):
        long = clip("long", "happy", 50, 50)
        out = chain_batch([long], [self.fear], self.relabeller, max_steps=35)
        self.assertEqual(out[0].video.shape[0], 50)
        self.assertTrue(torch.allclose(out[0].labels, long.labels))

    def test_features_without_a_teacher_are_refused(self):
        with self.assertRaisesRegex(ValueError, "teacher.json"):
            Relabeller(tempfile.mkdtemp(), SPEC)

    def test_without_permutation_a_clip_is_itself(self):
        self.assertIs(self.relabeller.permute(self.happy), self.happy)

    def test_a_permuted_clip_has_its_new_label(self):
        out = Relabeller(features_dir("expr"), SPEC, permutation=1.0).permute(self.happy)
        self.assertTrue(torch.allclose(out.labels, clip_labels("expr", out.video, out.audio, self.relabeller.layout)))
        self.assertTrue(torch.equal(out.video[:, 0], self.happy.video[:, 0]))

    def test_only_teachers_of_the_features(self):
        with self.assertRaisesRegex(ValueError, "faceapi"):
            Relabeller(features_dir("faceapi"), SPEC)
        Relabeller(features_dir("facs"), SPEC)  # chains: the facs teacher reads the features too
        with self.assertRaisesRegex(ValueError, "permutation"):
            Relabeller(features_dir("facs"), SPEC, permutation=0.5)


if __name__ == "__main__":
    unittest.main()
