"""Generates the Whisper weight-import fixtures in tests/fixtures/whisper_import/ (run by hand):

    /path/to/venv/bin/python scripts/gen_whisper_import_fixtures.py [--out tests/fixtures/whisper_import]

Needs torch, transformers (5.x) and ctranslate2 (4.x). Random weights (seed 0), so the fixtures
hold no third-party weights. It writes

    hf/config.json, hf/model.safetensors
        a tiny random HF `WhisperForConditionalGeneration` (d_model 32, 4 heads, 2 encoder layers,
        1 decoder layer, FFN 64, 80 mel bins, max_source_positions 64, vocab 40). Every parameter is
        randomised (normal, std 0.5; LayerNorm weights 1 + N(0, 0.1)), not HF's init (zero biases,
        unit LayerNorms), so the comparisons test real values. Two encoder tensors are copied into
        the decoder on purpose so that CTranslate2's converter stores the encoder ones as ALIASES of
        decoder variables (it aliases equal variables to the alphabetically first name):
          model.decoder.layer_norm.weight          := model.encoder.layer_norm.weight
          model.decoder.layers.0.fc1.weight        := model.encoder.layers.1.fc1.weight
        (the second is a quantised weight, so the int8 file also exercises `<alias>_scale`).
    hf_encoder_bin/config.json, hf_encoder_bin/pytorch_model.bin
        the encoder only, bare `WhisperEncoder` names (no prefix), float16, via torch.save (zip).
    ct2_float32/, ct2_float16/, ct2_bfloat16/, ct2_int8/, ct2_int16/   (model.bin + config.json)
        the HF model converted by ctranslate2.converters.TransformersConverter with quantization
        float32, float16, bfloat16, int8 (per-row scales) and int16 (one scale per tensor). The converter needs a tokenizer; a stand-in with `vocab_size`
        tokens is passed instead of writing one, and vocabulary files are not kept.
"""
import argparse
import json
import os
import shutil
import tempfile

import torch
import transformers
import ctranslate2
from ctranslate2.converters import TransformersConverter


class _StandInTokenizer:
    """Just what CTranslate2's Whisper loader asks of a tokenizer."""

    def __init__(self, n):
        self._vocab = {"<|tok%d|>" % i: i for i in range(n)}
        self.additional_special_tokens = []

    def get_vocab(self):
        return dict(self._vocab)

    def convert_tokens_to_ids(self, token):
        return self._vocab[token]


class _Converter(TransformersConverter):
    def __init__(self, path, vocab_size):
        super().__init__(path)
        self._vocab_size = vocab_size

    def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
        return _StandInTokenizer(self._vocab_size)


def build_model():
    cfg = transformers.WhisperConfig(
        vocab_size=40,
        num_mel_bins=80,
        d_model=32,
        encoder_layers=2,
        encoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_layers=1,
        decoder_attention_heads=4,
        decoder_ffn_dim=64,
        max_source_positions=64,
        max_target_positions=16,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=3,
        suppress_tokens=[],
        begin_suppress_tokens=[2],
    )
    torch.manual_seed(0)
    model = transformers.WhisperForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.5 * torch.randn_like(p))
        m = model.model
        m.decoder.layer_norm.weight.copy_(m.encoder.layer_norm.weight)
        m.decoder.layers[0].fc1.weight.copy_(m.encoder.layers[1].fc1.weight)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "whisper_import"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    model = build_model()
    hf_dir = os.path.join(out, "hf")
    shutil.rmtree(hf_dir, ignore_errors=True)
    model.save_pretrained(hf_dir)
    for f in os.listdir(hf_dir):
        if f not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(hf_dir, f))

    bin_dir = os.path.join(out, "hf_encoder_bin")
    shutil.rmtree(bin_dir, ignore_errors=True)
    os.makedirs(bin_dir)
    shutil.copy(os.path.join(hf_dir, "config.json"), bin_dir)
    enc = {k: v.detach().to(torch.float16).contiguous().clone() for k, v in model.model.encoder.state_dict().items()}
    torch.save(enc, os.path.join(bin_dir, "pytorch_model.bin"))

    for quant in ("float32", "float16", "bfloat16", "int8", "int16"):
        dst = os.path.join(out, "ct2_" + quant)
        shutil.rmtree(dst, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            conv_out = os.path.join(tmp, "ct2")
            _Converter(hf_dir, model.config.vocab_size).convert(conv_out, quantization=quant)
            os.makedirs(dst)
            for f in ("model.bin", "config.json"):
                shutil.copy(os.path.join(conv_out, f), dst)

    total = 0
    for root, _, files in os.walk(out):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print("wrote %s (%d bytes in all; torch %s, transformers %s, ctranslate2 %s)"
          % (out, total, torch.__version__, transformers.__version__, ctranslate2.__version__))


if __name__ == "__main__":
    main()
