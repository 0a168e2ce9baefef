"""Generates the Whisper-backbone parity fixtures in tests/fixtures/whisper_model/ (run by hand):

    /path/to/venv/bin/python scripts/gen_whisper_model_fixtures.py

Needs torch, transformers (5.x), safetensors, numpy. Fixed seeds. Writes
    encoder_io.safetensors   the tiny encoder of tests/fixtures/whisper_import/hf (a random
                             WhisperForConditionalGeneration, gen_whisper_import_fixtures.py) on a
                             clip-length log-Mel input (HF WhisperFeatureExtractor) of espeak-ng
                             speech: every hidden state; plus a full-window input through HF's own
                             WhisperEncoder.forward (output_hidden_states) to show the narrowed
                             forward equals HF's where HF accepts the input
    <name>/config.json, model.safetensors, io.safetensors
                             two tiny WhisperFusedModel heads (scripts/reference_model.py) around
                             that encoder: inputs (mel, pitch, mfcc) and every stage's output
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import WhisperFusedModel, whisper_hidden_states  # noqa: E402
from transformers import Wav2Vec2Config, WhisperConfig, WhisperFeatureExtractor  # noqa: E402
from transformers.models.whisper.modeling_whisper import WhisperEncoder  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
HF = os.path.join(ROOT, "tests", "fixtures", "whisper_import", "hf")
OUT = os.path.join(ROOT, "tests", "fixtures", "whisper_model")
SPEECH = os.path.join(ROOT, "tests", "fixtures", "features", "speech", "input_i16.npy")

PITCH_W2V = dict(hidden_size=24, num_hidden_layers=1, num_attention_heads=4, intermediate_size=48,
                 conv_dim=[16] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2],
                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, feat_extract_norm="group",
                 do_stable_layer_norm=False, conv_bias=False, hidden_act="gelu", feat_extract_activation="gelu")
HEAD = dict(lstm_hidden=8, cross_heads=4, self_heads=8, fc_dim=16, mfcc_dim=39, attn_ffn_multiplier=4)
HEADS = {
    "tiny_all_layers_norm_pool2": dict(layers=2, normalize_layers=True, frame_pooling=2, seed=11, samples=9_000, batch=2),
    "tiny_first_layer_pool1": dict(layers=1, normalize_layers=False, frame_pooling=1, seed=12, samples=12_345, batch=1),
}


def encoder():
    cfg = WhisperConfig.from_pretrained(HF)
    enc = WhisperEncoder(cfg)
    sd = {k[len("model.encoder."):]: v for k, v in load_file(os.path.join(HF, "model.safetensors")).items()
          if k.startswith("model.encoder.")}
    missing, unexpected = enc.load_state_dict(sd, strict=False)
    assert not unexpected and all(m.endswith("k_proj.bias") for m in missing), (missing, unexpected)
    return cfg, enc.eval()


def speech(n):
    x = np.load(SPEECH).astype(np.float32) / 32768.0
    return x[:n]


def logmel(x):
    fe = WhisperFeatureExtractor(feature_size=80, sampling_rate=16000, hop_length=160, chunk_length=30, n_fft=400)
    return torch.from_numpy(fe(x, sampling_rate=16000, return_tensors="np", padding="longest").input_features)


def randomise(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("whisper."):
                continue  # the imported encoder keeps its weights
            if name == "layer_weights":
                p.copy_(torch.randn_like(p))
            elif p.dim() >= 2:
                bound = 1.0 / np.sqrt(int(np.prod(p.shape[1:])))
                p.uniform_(-bound, bound)
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))


def normalise(x):
    x = x - x.mean(dim=-1, keepdim=True)
    return x / torch.sqrt(x.var(dim=-1, keepdim=True, unbiased=False) + 1e-7)


def main():
    os.makedirs(OUT, exist_ok=True)
    cfg, enc = encoder()
    with torch.no_grad():
        mel = logmel(speech(19_000))  # 118 frames: within the tiny encoder's 64 positions x 2
        states = whisper_hidden_states(enc, mel)
        full_mel = logmel(speech(2 * cfg.max_source_positions * 160 + 160))[:, :, : 2 * cfg.max_source_positions]
        hf = enc(full_mel, output_hidden_states=True).hidden_states
        ours = whisper_hidden_states(enc, full_mel)
        gap = max((a - b).abs().max().item() for a, b in zip(hf, ours))
        assert gap == 0.0, f"narrowed forward differs from HF's on a full window: {gap}"
    io = {"mel": mel.contiguous(), "full_mel": full_mel.contiguous()}
    io.update({f"hidden_{i}": s.contiguous() for i, s in enumerate(states)})
    io.update({f"full_hidden_{i}": s.contiguous() for i, s in enumerate(hf)})
    save_file(io, os.path.join(OUT, "encoder_io.safetensors"))
    print("encoder: mel", tuple(mel.shape), "states", len(states), tuple(states[0].shape))

    for name, spec in HEADS.items():
        torch.manual_seed(spec["seed"])
        w2v = Wav2Vec2Config(**PITCH_W2V)
        model = WhisperFusedModel(cfg, spec["layers"], spec["normalize_layers"], spec["frame_pooling"], w2v, **HEAD).eval()
        model.whisper.load_state_dict(enc.state_dict(), strict=False)
        randomise(model)
        b, n = spec["batch"], spec["samples"]
        clips = [speech(n) * (1.0 + 0.5 * i) + 0.01 * np.random.default_rng(i).standard_normal(n).astype(np.float32) for i in range(b)]
        mel = torch.cat([logmel(c) for c in clips])
        t = torch.arange(n, dtype=torch.float32) / 16000.0
        pitch = normalise(torch.stack([3700 + 100 * torch.sin(2 * np.pi * (2 + i) * t) + 20 * torch.randn(n) for i in range(b)]))
        mfcc = torch.randn(b, 1001, 39) * torch.linspace(20, 1, 39)
        with torch.no_grad():
            stages = model.forward_stages(mel, pitch, mfcc)
        out_dir = os.path.join(OUT, name)
        os.makedirs(out_dir, exist_ok=True)
        sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        save_file(sd, os.path.join(out_dir, "model.safetensors"))
        io = {"mel": mel.contiguous(), "pitch": pitch, "mfcc": mfcc}
        io.update({k: v.detach().contiguous() for k, v in stages.items()})
        save_file(io, os.path.join(out_dir, "io.safetensors"))
        whisper_cfg = {k: v for k, v in json.load(open(os.path.join(HF, "config.json"))).items()}
        fused_cfg = dict(backbone="whisper", wav2vec2=w2v.to_dict(),
                         whisper=dict(encoder=whisper_cfg, layers=spec["layers"], normalize_layers=spec["normalize_layers"],
                                      frame_pooling=spec["frame_pooling"]), **HEAD)
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(fused_cfg, f, indent=2, sort_keys=True)
        print(name, "logit", stages["logit"].tolist(), "frames", stages["audio_hidden"].shape[1])


if __name__ == "__main__":
    main()
