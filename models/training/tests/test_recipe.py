"""Pins the seed's training recipe: where dropout sits and at which rate, the clipping, the defaults."""

import unittest

import torch
from torch import nn

from eri_train.model import EriModel
from eri_train.train import SEED_RECIPE, TrainConfig, build_model, train_step


def dropouts(module):
    return {name: m.p for name, m in module.named_modules() if isinstance(m, nn.Dropout)}


class SeedRecipe(unittest.TestCase):
    def test_defaults_are_the_seeds(self):
        c = TrainConfig()
        self.assertEqual(c.epochs, 100)
        self.assertEqual(c.weight_decay, 0.5)
        self.assertEqual((c.dropout, c.attn_dropout, c.head_dropout), (0.2, 0.2, 0.3))
        self.assertEqual(c.grad_clip, 1.0)
        self.assertEqual(c.patience, 0, "the seed keeps the best checkpoint and never stops early")
        self.assertEqual((c.lr, c.batch, c.lr_step, c.lr_gamma), (1e-4, 16, 10, 0.5))
        self.assertEqual(c.departures(), {})
        self.assertIn("the seed's recipe exactly", c.describe(10, 100, 7))

    def test_an_override_is_recorded(self):
        c = TrainConfig(weight_decay=0.01, patience=15)
        self.assertEqual(c.departures(), {"weight_decay": (0.01, 0.5), "patience": (15, 0)})
        self.assertIn("weight_decay 0.01 (seed 0.5)", c.describe(10, 40, 25))
        with self.assertRaises(ValueError):
            TrainConfig(weight_decy=0.1)

    def test_dropout_placement(self):
        model = build_model(TrainConfig(), 5, 3, 7)
        found = dropouts(model)
        expected = {}
        for branch in ("transformer", "transformer_aud"):
            for i in range(4):
                expected[f"{branch}.layers.{i}.0.fn.attn_drop"] = 0.2  # attention probabilities
                expected[f"{branch}.layers.{i}.0.fn.to_out.1"] = 0.2  # attention output
                expected[f"{branch}.layers.{i}.1.fn.net.2"] = 0.2  # after the MLP's GELU
                expected[f"{branch}.layers.{i}.1.fn.net.4"] = 0.2  # after the MLP's output
        expected["head.1"] = 0.3
        self.assertEqual(found, expected)
        # The head is Linear -> Dropout -> Linear, both without bias (the reference names head.0, head.2).
        self.assertIsInstance(model.head[0], nn.Linear)
        self.assertIsNone(model.head[0].bias)
        self.assertIsNone(model.head[2].bias)
        self.assertEqual(set(model.state_dict()), set(EriModel(5, 3).state_dict()))

    def test_attention_probabilities_are_dropped(self):
        torch.manual_seed(0)
        model = build_model(TrainConfig(dropout=0.0, attn_dropout=0.9, head_dropout=0.0), 5, 3, 7)
        x = (torch.randn(2, 6, 5), torch.tensor([6, 4]), torch.randn(2, 6, 3), torch.tensor([6, 6]))
        model.eval()
        with torch.no_grad():
            a, b = model(*x), model(*x)
        self.assertTrue(torch.equal(a, b), "eval mode is deterministic")
        model.train()
        with torch.no_grad():
            c = model(*x)
        self.assertFalse(torch.allclose(a, c), "train mode drops attention probabilities")

    def test_gradients_are_clipped_before_the_step(self):
        torch.manual_seed(0)
        model = build_model(TrainConfig(dropout=0.0, attn_dropout=0.0, head_dropout=0.0), 5, 3, 7)
        inputs = (torch.randn(2, 6, 5) * 50, torch.tensor([6, 6]), torch.randn(2, 6, 3) * 50, torch.tensor([6, 6]))
        target = torch.tensor([[1.0] * 7, [0.0] * 7])
        with torch.no_grad():
            model.head[2].weight.mul_(100)  # a steep head: gradients far above the clip
        seen = []
        # SGD with lr 1 makes the step equal the (clipped) gradient, so the step's size is the clipped norm.
        optimiser = torch.optim.SGD(model.parameters(), lr=1.0)
        original = optimiser.step

        def step(*a, **kw):
            seen.append(torch.sqrt(sum((p.grad**2).sum() for p in model.parameters() if p.grad is not None)).item())
            return original(*a, **kw)

        optimiser.step = step
        _, norm = train_step(model, optimiser, inputs, target, grad_clip=SEED_RECIPE["grad_clip"])
        self.assertGreater(norm, 1.0, "the unclipped gradient is large")
        self.assertLessEqual(seen[0], 1.0 + 1e-5)
        _, unclipped = train_step(model, optimiser, inputs, target, grad_clip=0)
        self.assertIsNone(unclipped)


if __name__ == "__main__":
    unittest.main()
