"""The real Whisper base encoder's parity fixture, tests/fixtures/whisper_model/base_io.safetensors
(run by hand, after scripts/fetch_whisper.sh has put the CTranslate2 folder in place):

    /path/to/venv/bin/python scripts/gen_whisper_base_fixture.py WHISPER_BASE_CT2_DIR

Reads model.bin with the reference reader below (SPEC §5b), loads the encoder strictly into
transformers' WhisperEncoder (float16 weights upcast to float32, exactly what emotrace stores),
and runs it on 1.5 s of the espeak-ng speech fixture at clip length (scripts/reference_model.py's
narrowed forward). Saves the input log-Mel (HF WhisperFeatureExtractor) and every hidden state;
tests/whisper_model.rs compares the default model's encoder with them (tolerance 1e-3).
Also prints CTranslate2's own encoder output next to transformers' on a 30-s window.
"""
import os
import struct
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import whisper_hidden_states  # noqa: E402
from transformers import WhisperConfig, WhisperFeatureExtractor  # noqa: E402
from transformers.models.whisper.modeling_whisper import WhisperEncoder  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SPEECH = os.path.join(ROOT, "tests", "fixtures", "features", "speech", "input_i16.npy")
OUT = os.path.join(ROOT, "tests", "fixtures", "whisper_model", "base_io.safetensors")
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path):
    b = open(path, "rb").read()
    o = 0

    def u32():
        nonlocal o
        v = struct.unpack_from("<I", b, o)[0]
        o += 4
        return v

    def string():
        nonlocal o
        n = struct.unpack_from("<H", b, o)[0]
        o += 2
        s = b[o:o + n - 1].decode()
        o += n
        return s

    assert u32() == 6
    assert string() == "WhisperSpec"
    u32()
    out = {}
    for _ in range(u32()):
        name = string()
        rank = b[o]
        o += 1
        dims = struct.unpack_from("<%dI" % rank, b, o)
        o += 4 * rank
        dtype = DTYPES[b[o]]
        o += 1
        nbytes = u32()
        out[name] = np.frombuffer(b, dtype, nbytes // np.dtype(dtype).itemsize, o).reshape(dims)
        o += nbytes
    return out


def encoder_state_dict(v):
    f = lambda n: torch.from_numpy(v[n].astype(np.float32))  # noqa: E731
    sd = {"conv1.weight": f("encoder/conv1/weight"), "conv1.bias": f("encoder/conv1/bias"),
          "conv2.weight": f("encoder/conv2/weight"), "conv2.bias": f("encoder/conv2/bias"),
          "embed_positions.weight": f("encoder/position_encodings/encodings"),
          "layer_norm.weight": f("encoder/layer_norm/gamma"), "layer_norm.bias": f("encoder/layer_norm/beta")}
    i = 0
    while f"encoder/layer_{i}/ffn/linear_0/weight" in v:
        p, q = f"encoder/layer_{i}", f"layers.{i}"
        w, b = f(f"{p}/self_attention/linear_0/weight"), f(f"{p}/self_attention/linear_0/bias")
        d = w.shape[1]
        sd.update({f"{q}.self_attn.q_proj.weight": w[:d], f"{q}.self_attn.k_proj.weight": w[d:2 * d],
                   f"{q}.self_attn.v_proj.weight": w[2 * d:], f"{q}.self_attn.q_proj.bias": b[:d],
                   f"{q}.self_attn.v_proj.bias": b[2 * d:],
                   f"{q}.self_attn.out_proj.weight": f(f"{p}/self_attention/linear_1/weight"),
                   f"{q}.self_attn.out_proj.bias": f(f"{p}/self_attention/linear_1/bias"),
                   f"{q}.self_attn_layer_norm.weight": f(f"{p}/self_attention/layer_norm/gamma"),
                   f"{q}.self_attn_layer_norm.bias": f(f"{p}/self_attention/layer_norm/beta"),
                   f"{q}.fc1.weight": f(f"{p}/ffn/linear_0/weight"), f"{q}.fc1.bias": f(f"{p}/ffn/linear_0/bias"),
                   f"{q}.fc2.weight": f(f"{p}/ffn/linear_1/weight"), f"{q}.fc2.bias": f(f"{p}/ffn/linear_1/bias"),
                   f"{q}.final_layer_norm.weight": f(f"{p}/ffn/layer_norm/gamma"),
                   f"{q}.final_layer_norm.bias": f(f"{p}/ffn/layer_norm/beta")})
        i += 1
    return sd, i


def main():
    ct2_dir = sys.argv[1]
    v = read_ct2(os.path.join(ct2_dir, "model.bin"))
    sd, layers = encoder_state_dict(v)
    d = sd["conv1.weight"].shape[0]
    cfg = WhisperConfig(d_model=d, encoder_layers=layers, encoder_attention_heads=int(v["encoder/num_heads"]),
                        encoder_ffn_dim=sd["layers.0.fc1.weight"].shape[0], num_mel_bins=80,
                        max_source_positions=sd["embed_positions.weight"].shape[0])
    enc = WhisperEncoder(cfg).eval()
    missing, unexpected = enc.load_state_dict(sd, strict=False)
    assert not unexpected and all(m.endswith("k_proj.bias") for m in missing), (missing, unexpected)
    x = (np.load(SPEECH).astype(np.float32) / 32768.0)[:24_000]
    fe = WhisperFeatureExtractor(feature_size=80, sampling_rate=16000, hop_length=160, chunk_length=30, n_fft=400)
    mel = torch.from_numpy(fe(x, sampling_rate=16000, return_tensors="np", padding="longest").input_features)
    with torch.no_grad():
        states = whisper_hidden_states(enc, mel)
    io = {"mel": mel.contiguous()}
    io.update({f"hidden_{i}": s.contiguous() for i, s in enumerate(states)})
    save_file(io, OUT)
    print("wrote", OUT, "mel", tuple(mel.shape), "states", len(states), tuple(states[0].shape))
    try:
        import ctranslate2
        full = torch.from_numpy(fe(x, sampling_rate=16000, return_tensors="np").input_features)
        with torch.no_grad():
            hf = enc(full).last_hidden_state[0].numpy()
        w = ctranslate2.models.Whisper(ct2_dir, device="cpu", compute_type="float32")
        ct = np.array(w.encode(ctranslate2.StorageView.from_array(full.numpy()), to_cpu=True))[0]
        print(f"CTranslate2 vs transformers on a 30-s window: max |diff| {np.abs(ct - hf).max():.2e} (largest |value| {np.abs(hf).max():.2f})")
    except ImportError:
        print("ctranslate2 not installed: CTranslate2 comparison skipped")


if __name__ == "__main__":
    main()
