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


if __name__ == "__main__":
    unittest.main()
