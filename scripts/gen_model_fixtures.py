"""Generates the fused-model parity fixtures in tests/fixtures/model/ (run by hand):

    /path/to/venv/bin/python scripts/gen_model_fixtures.py

Needs torch, transformers, safetensors, numpy. Fixed seeds. For each tiny config it writes
    config.json            our fused config (embeds the HF wav2vec2 config)
    model.safetensors      fused state_dict
    model.pth              the same state_dict via torch.save (weight-norm names as noted below)
    io.safetensors         inputs (audio, pitch, mfcc) and expected outputs of every stage
    hf_wav2vec2/           the backbone alone in HF layout (config.json + weights)
Config A ("group", post-norm, even pos-conv kernel) keeps torch's parametrized weight-norm names and
a masked_spec_embed; config B ("layer", pre-norm, odd kernel, conv bias) is renamed to the legacy
weight_g/weight_v names, as older checkpoints have them.
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import FusedModel  # noqa: E402
from transformers import Wav2Vec2Config  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "model")

COMMON = dict(
    hidden_size=24,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=48,
    conv_dim=[16] * 7,
    conv_kernel=[10, 3, 3, 3, 3, 2, 2],
    conv_stride=[5, 2, 2, 2, 2, 2, 2],
    num_conv_pos_embedding_groups=4,
    hidden_act="gelu",
    feat_extract_activation="gelu",
    attn_implementation="eager",
)
HEAD = dict(lstm_hidden=8, cross_heads=4, self_heads=8, fc_dim=16, mfcc_dim=39, attn_ffn_multiplier=4)

CONFIGS = {
    "tiny_group_postnorm": dict(
        w2v=dict(COMMON, feat_extract_norm="group", do_stable_layer_norm=False, conv_bias=False,
                 num_conv_pos_embeddings=16, mask_time_prob=0.05),
        batch=2, samples=8000, legacy_weight_norm=False, seed=1234,
    ),
    "tiny_layer_prenorm": dict(
        w2v=dict(COMMON, feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
                 num_conv_pos_embeddings=15, mask_time_prob=0.0),
        batch=1, samples=6789, legacy_weight_norm=True, seed=5678,
    ),
}


def randomise(model: torch.nn.Module):
    """PyTorch-default-scale random weights everywhere (HF's init would leave norms at 1/0)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "original0" in name or name.endswith("weight_g"):
                p.uniform_(0.5, 1.5)
            elif p.dim() >= 2:
                fan_in = int(np.prod(p.shape[1:]))
                bound = 1.0 / np.sqrt(fan_in)
                p.uniform_(-bound, bound)
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))


def legacy_names(sd):
    return {
        k.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"): v
        for k, v in sd.items()
    }


def normalise(x):
    x = x - x.mean(dim=-1, keepdim=True)
    return x / torch.sqrt(x.var(dim=-1, keepdim=True, unbiased=False) + 1e-7)


def main():
    for name, spec in CONFIGS.items():
        torch.manual_seed(spec["seed"])
        out_dir = os.path.join(OUT, name)
        os.makedirs(os.path.join(out_dir, "hf_wav2vec2"), exist_ok=True)
        w2v_cfg = Wav2Vec2Config(**spec["w2v"])
        model = FusedModel(w2v_cfg, **HEAD).eval()
        randomise(model)

        b, n = spec["batch"], spec["samples"]
        t = torch.arange(n, dtype=torch.float32) / 16000.0
        audio = torch.stack([torch.sin(2 * np.pi * (150 + 50 * i) * t) + 0.3 * torch.randn(n) for i in range(b)])
        pitch = torch.stack([3700 + 100 * torch.sin(2 * np.pi * (2 + i) * t) + 20 * torch.randn(n) for i in range(b)])
        audio, pitch = normalise(audio), normalise(pitch)
        mfcc = torch.randn(b, 1001, 39) * torch.linspace(20, 1, 39)

        with torch.no_grad():
            stages = model.forward_stages(audio, pitch, mfcc)

        sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        if spec["legacy_weight_norm"]:
            sd = legacy_names(sd)
        save_file(sd, os.path.join(out_dir, "model.safetensors"))
        torch.save(sd, os.path.join(out_dir, "model.pth"))

        io = {"audio": audio, "pitch": pitch, "mfcc": mfcc}
        io.update({k: v.detach().contiguous() for k, v in stages.items()})
        save_file(io, os.path.join(out_dir, "io.safetensors"))

        w2v_dict = w2v_cfg.to_dict()
        fused_cfg = dict(wav2vec2=w2v_dict, **HEAD)
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(fused_cfg, f, indent=2, sort_keys=True)

        # The backbone alone, in HF layout, as `import-model --wav2vec2` sees it.
        backbone = {k[len("wav2vec2."):]: v for k, v in sd.items() if k.startswith("wav2vec2.")}
        hf_dir = os.path.join(out_dir, "hf_wav2vec2")
        with open(os.path.join(hf_dir, "config.json"), "w") as f:
            json.dump(w2v_dict, f, indent=2, sort_keys=True)
        if spec["legacy_weight_norm"]:
            torch.save(backbone, os.path.join(hf_dir, "pytorch_model.bin"))
        else:
            save_file(backbone, os.path.join(hf_dir, "model.safetensors"))
        print(name, "logit", stages["logit"].tolist(), "T", stages["audio_hidden"].shape[1])


if __name__ == "__main__":
    main()
