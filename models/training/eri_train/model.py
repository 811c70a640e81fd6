"""The ABAW5 ERI model (HKUST-NISL) with the reference `state_dict` names.

Per branch: 2-layer GRU -> a learned regression token prepended -> pre-norm transformer (lucidrains ViT
layers: x + Attn(LN(x)), x + FF(LN(x)); no positional encoding, no final norm) -> the token's output.
Head: concat(video, audio) -> Linear (no bias) -> Dropout -> Linear (no bias) -> sigmoid.

Dropout sits where the seed puts it (lucidrains' ViT layers, `models/trans.py`): on the attention
probabilities, on the attention output, after the MLP's GELU and after its output; the head has its own
rate (0.3 in the seed, 0.2 everywhere else). Dropout modules have no parameters, so the `state_dict`
names are the same whatever the rates.

Batches hold whole clips padded at the end. The GRU is causal, so padding after a clip's last step does
not change its outputs, and the attention masks padded keys: each clip's result equals running it alone,
which is what the TypeScript server computes. A clip without a modality has length 0 there: its branch
sees the regression token alone.
"""

import torch
from torch import nn


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x, **kwargs):
        return self.fn(self.norm(x), **kwargs)


class Attention(nn.Module):
    def __init__(self, dim, heads, dim_head, dropout, attn_dropout=None):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head**-0.5
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.attn_drop = nn.Dropout(dropout if attn_dropout is None else attn_dropout)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout))

    def forward(self, x, key_mask=None):
        b, n, _ = x.shape
        q, k, v = (t.reshape(b, n, self.heads, -1).transpose(1, 2) for t in self.to_qkv(x).chunk(3, dim=-1))
        dots = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        if key_mask is not None:
            dots = dots.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        out = torch.matmul(self.attn_drop(dots.softmax(dim=-1)), v)
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden, dropout):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )

    def forward(self, x):
        return self.net(x)


class Transformer(nn.Module):
    def __init__(self, dim, depth, heads, dim_head, mlp_dim, dropout, attn_dropout=None):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PreNorm(dim, Attention(dim, heads, dim_head, dropout, attn_dropout)),
                    PreNorm(dim, FeedForward(dim, mlp_dim, dropout)),
                ]
            )
            for _ in range(depth)
        )

    def forward(self, x, key_mask=None):
        for attn, ff in self.layers:
            x = attn(x, key_mask=key_mask) + x
            x = ff(x) + x
        return x


REFERENCE = {"hidden": 256, "gru_layers": 2, "depth": 4, "heads": 4, "dim_head": 64, "mlp_dim": 256, "head_hidden": 256}


class EriModel(nn.Module):
    def __init__(self, video_dim, audio_dim, outputs=7, dropout=0.0, attn_dropout=None, head_dropout=None, **sizes):
        super().__init__()
        s = {**REFERENCE, **sizes}
        h = s["hidden"]
        self.sizes = s
        self.video_dim = video_dim
        self.audio_dim = audio_dim
        self.rnn = nn.GRU(video_dim, h, num_layers=s["gru_layers"], batch_first=True)
        self.reg_token = nn.Parameter(torch.randn(1, 1, h))
        self.transformer = Transformer(h, s["depth"], s["heads"], s["dim_head"], s["mlp_dim"], dropout, attn_dropout)
        self.rnn_aud = nn.GRU(audio_dim, h, num_layers=s["gru_layers"], batch_first=True)
        self.reg_token_aud = nn.Parameter(torch.randn(1, 1, h))
        self.transformer_aud = Transformer(
            h, s["depth"], s["heads"], s["dim_head"], s["mlp_dim"], dropout, attn_dropout
        )
        self.head = nn.Sequential(
            nn.Linear(2 * h, s["head_hidden"], bias=False),
            nn.Dropout(dropout if head_dropout is None else head_dropout),
            nn.Linear(s["head_hidden"], outputs, bias=False),
        )

    @staticmethod
    def _branch(rnn, token, transformer, x, lengths):
        b, t, _ = x.shape
        if t > 0:
            out, _ = rnn(x)
        else:
            out = x.new_zeros(b, 0, rnn.hidden_size)
        seq = torch.cat([token.expand(b, -1, -1), out], dim=1)
        steps = torch.arange(t, device=x.device)[None, :] < lengths[:, None]
        key_mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=x.device), steps], dim=1)
        return transformer(seq, key_mask=key_mask)[:, 0]

    def tokens(self, video, video_len, audio, audio_len):
        tv = self._branch(self.rnn, self.reg_token, self.transformer, video, video_len)
        ta = self._branch(self.rnn_aud, self.reg_token_aud, self.transformer_aud, audio, audio_len)
        return tv, ta

    def forward(self, video, video_len, audio, audio_len):
        """video [B,T,Dv] padded at the end, video_len [B]; audio likewise. Returns intensities [B,E]."""
        tv, ta = self.tokens(video, video_len, audio, audio_len)
        return torch.sigmoid(self.head(torch.cat([tv, ta], dim=-1)))


def fold_normalisation(state_dict, prefix, mean, std):
    """Folds x' = (x - mean) / std into the first GRU layer, so the exported model takes raw features.

    Every gate reads W_ih x + b_ih, so W' = W / std (per input column) and b' = b - W' mean is exact.
    """
    w = state_dict[f"{prefix}.weight_ih_l0"]
    b = state_dict[f"{prefix}.bias_ih_l0"]
    w2 = w / std[None, :]
    state_dict[f"{prefix}.weight_ih_l0"] = w2
    state_dict[f"{prefix}.bias_ih_l0"] = b - w2 @ mean
    return state_dict
