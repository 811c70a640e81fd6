"""The faceapi teacher reads its inputs from faceapi.json, labels only the steps face-api analysed and
found a face in, and refuses inputs that do not line up with the features."""

import json
import math
import os
import tempfile
import unittest

import torch

from eri_train.teachers import (
    EXPRESSIONS,
    FACEAPI_EXPRESSIONS,
    clip_labels,
    expr_labels,
    external_inputs,
    permuted_clip,
    read_external,
    running_labels,
)


class FakeLayout:
    """A two-column video row: [face flag, anything]; the faceapi teacher reads neither."""

    vad = 0

    def face_steps(self, video):
        return video[:, 0] > 0.5


FACEAPI_ORDER = FACEAPI_EXPRESSIONS


def write(dir_, value):
    path = os.path.join(dir_, "faceapi.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)
    return path


class FaceapiTeacher(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        happy = [0, 0, 0, 1, 0, 0, 0]
        sad = [0, 0, 0, 0, 1, 0, 0]
        # Step 1 not analysed, step 3 analysed without a face.
        self.steps = [happy, None, sad, None]
        write(self.dir, {"expressions": FACEAPI_ORDER, "clips": {"a": self.steps}})
        self.video = torch.ones(4, 2)  # the extractor saw a face on every step
        self.audio = torch.zeros(4, 1)

    def test_the_order_is_eri_trains(self):
        self.assertEqual(len(FACEAPI_ORDER), len(EXPRESSIONS))
        write(self.dir, {"expressions": list(reversed(FACEAPI_ORDER)), "clips": {}})
        with self.assertRaises(ValueError):
            read_external(os.path.join(self.dir, "faceapi.json"))

    def test_only_steps_with_a_faceapi_face_are_labelled(self):
        ext = external_inputs("faceapi", self.dir)["a"]
        self.assertTrue(math.isnan(float(ext[1, 0])))
        label = clip_labels("faceapi", self.video, self.audio, FakeLayout(), external=ext)
        p = torch.tensor([[0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0]], dtype=torch.float32)
        expected = expr_labels(p, torch.zeros(2)).mean(0)
        self.assertTrue(torch.allclose(label, expected))
        # The expression net's features are not what this teacher reads.
        other = clip_labels("faceapi", torch.zeros(4, 2), self.audio, FakeLayout(), external=ext)
        self.assertTrue(torch.allclose(other, expected))

    def test_no_faceapi_face_means_no_label(self):
        ext = torch.full((4, 7), math.nan)
        self.assertIsNone(clip_labels("faceapi", self.video, self.audio, FakeLayout(), external=ext))

    def test_inputs_must_line_up_with_the_features(self):
        ext = external_inputs("faceapi", self.dir)["a"][:3]
        with self.assertRaises(ValueError):
            clip_labels("faceapi", self.video, self.audio, FakeLayout(), external=ext)
        with self.assertRaises(ValueError):
            clip_labels("faceapi", self.video, self.audio, FakeLayout())

    def test_a_missing_file_names_the_tool(self):
        os.remove(os.path.join(self.dir, "faceapi.json"))
        with self.assertRaisesRegex(ValueError, "faceapi-teacher.mjs"):
            external_inputs("faceapi", self.dir)
        self.assertIsNone(external_inputs("expr", self.dir))

    def test_running_windows_skip_steps_without_a_face(self):
        ext = external_inputs("faceapi", self.dir)["a"]
        out = running_labels("faceapi", self.video, self.audio, FakeLayout(), [2, 4], 2, external=ext)
        amusement = 1
        self.assertAlmostEqual(float(out[0, amusement]), 0.6, places=6)  # step 0 only (happy)
        self.assertAlmostEqual(float(out[1, amusement]), 0.0, places=6)  # step 2 only (sad)


class ExprLayout(FakeLayout):
    """[face flag, 7 expression probabilities, one other feature]."""

    probs = 1


class ExpressionPermutation(unittest.TestCase):
    def setUp(self):
        # Two face steps, happy then fearful, and a step without a face whose probabilities say surprise.
        self.video = torch.tensor([
            [1, 0, 0, 0, 0.9, 0, 0, 0.1, 5],
            [1, 0, 0, 0.8, 0, 0, 0, 0.2, 6],
            [0, 0, 0, 0, 0, 0, 1, 0, 7],
        ], dtype=torch.float32)
        self.audio = torch.zeros(3, 1)

    def test_the_identity_is_the_clip_itself(self):
        video, label = permuted_clip("expr", self.video, self.audio, ExprLayout(), list(range(6)))
        self.assertTrue(torch.equal(video, self.video))
        self.assertTrue(torch.allclose(label, clip_labels("expr", self.video, self.audio, ExprLayout())))

    def test_the_label_follows_the_permuted_probabilities(self):
        happy, fear, surprise = EXPRESSIONS.index("happy"), EXPRESSIONS.index("fear"), EXPRESSIONS.index("surprise")
        perm = list(range(6))
        perm[happy], perm[surprise] = surprise, happy  # the new happy column is the old surprise one
        video, label = permuted_clip("expr", self.video, self.audio, ExprLayout(), perm)
        self.assertAlmostEqual(float(video[0, 1 + surprise]), 0.9, places=6)  # what was happy now reads as surprise
        self.assertEqual(float(video[0, 1 + happy]), 0.0)
        self.assertTrue(torch.equal(video[:, 1 + fear], self.video[:, 1 + fear]))
        self.assertTrue(torch.equal(video[:, 7:], self.video[:, 7:]))  # neutral and the rest stay
        self.assertTrue(torch.allclose(label, clip_labels("expr", video, self.audio, ExprLayout())))
        amusement, surprise_out = 1, 6
        self.assertAlmostEqual(float(label[amusement]), 0.0, places=6)
        self.assertAlmostEqual(float(label[surprise_out]), 0.7 * 0.9 / 2, places=6)

    def test_only_teachers_of_the_probabilities_and_real_permutations(self):
        with self.assertRaises(ValueError):
            permuted_clip("facs", self.video, self.audio, ExprLayout(), list(range(6)))
        with self.assertRaises(ValueError):
            permuted_clip("faceapi", self.video, self.audio, ExprLayout(), list(range(6)))
        with self.assertRaises(ValueError):
            permuted_clip("expr", self.video, self.audio, ExprLayout(), [0, 0, 1, 2, 3, 4])


if __name__ == "__main__":
    unittest.main()
