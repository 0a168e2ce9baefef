"""PyTorch statement of the fused speech-emotion model (SPEC §5), written from the spec with the
reference code's module names so that its state_dict is what the reference training script saves.

    audio  (B, N) normalised waveform  -> wav2vec2 (HF Wav2Vec2Model) -> last_hidden_state (B, T, H)
    pitch  (B, N) normalised pitch track -> pitch_encoder (Wav2Vec2FeatureEncoder) -> (B, C, T)
              -> transpose -> pitch_projection (Wav2Vec2FeatureProjection; first output) -> (B, T, H)
    mfcc   (B, 1001, 39) -> lstm (BiLSTM, batch_first) -> mean over time -> (B, 2 * lstm_hidden)
    a_p = attn_a_p(src=audio, tar=pitch); p_a = attn_p_a(src=pitch, tar=audio)
    cat(a_p, p_a) (B, T, 2H) -> mean over time -> cat with LSTM mean -> (B, 2H + 2 * lstm_hidden)
    self_attn on that vector as a length-1 sequence -> dropout1 -> fc -> tanh -> dropout2
    -> classifier -> logit (B,);  p = sigmoid(logit) = P(non-negative).

Used by gen_model_fixtures.py and bench_model_torch.py. Needs torch and transformers.
"""
import torch
from torch import nn
import torch.nn.functional as F
from transformers import Wav2Vec2Config, Wav2Vec2Model
from transformers.models.wav2vec2.modeling_wav2vec2 import (
    Wav2Vec2FeatureEncoder,
    Wav2Vec2FeatureProjection,
)


class AttentionLayer(nn.Module):
    """a = MHA(query=tar, key=src, value=src); x = LN1(src + a); x = LN2(x + W2 ReLU(W1 x))."""

    def __init__(self, d_model, nhead, ffn_multiplier=4, dropout=0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, ffn_multiplier * d_model)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_multiplier * d_model, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src, tar):
        attended = self.self_attn(tar, src, src)[0]
        x = self.norm1(src + self.dropout1(attended))
        ff = self.linear2(self.dropout(F.relu(self.linear1(x))))
        return self.norm2(x + self.dropout2(ff))


class FusedModel(nn.Module):
    def __init__(self, w2v_config: Wav2Vec2Config, lstm_hidden=256, cross_heads=16, self_heads=8,
                 fc_dim=512, mfcc_dim=39, attn_ffn_multiplier=4):
        super().__init__()
        h = w2v_config.hidden_size
        self.wav2vec2 = Wav2Vec2Model(w2v_config)
        self.pitch_encoder = Wav2Vec2FeatureEncoder(w2v_config)
        self.pitch_projection = Wav2Vec2FeatureProjection(w2v_config)
        self.lstm = nn.LSTM(mfcc_dim, lstm_hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.attn_a_p = AttentionLayer(h, cross_heads, attn_ffn_multiplier)
        self.attn_p_a = AttentionLayer(h, cross_heads, attn_ffn_multiplier)
        fusion = 2 * h + 2 * lstm_hidden
        self.self_attn = AttentionLayer(fusion, self_heads, attn_ffn_multiplier)
        self.dropout1 = nn.Dropout(0.5)
        self.fc = nn.Linear(fusion, fc_dim)
        self.dropout2 = nn.Dropout(0.5)
        self.classifier = nn.Linear(fc_dim, 1)

    def forward_stages(self, audio, pitch, mfcc):
        audio_hidden = self.wav2vec2(audio).last_hidden_state
        pitch_features = self.pitch_encoder(pitch).transpose(1, 2)
        pitch_hidden, _ = self.pitch_projection(pitch_features)
        lstm_out, _ = self.lstm(mfcc)
        lstm_mean = lstm_out.mean(dim=1)
        a_p = self.attn_a_p(audio_hidden, pitch_hidden)
        p_a = self.attn_p_a(pitch_hidden, audio_hidden)
        cross = torch.cat([a_p, p_a], dim=2).mean(dim=1)
        fused = torch.cat([cross, lstm_mean], dim=1).unsqueeze(1)
        fused = self.self_attn(fused, fused).squeeze(1)
        x = torch.tanh(self.fc(self.dropout1(fused)))
        logit = self.classifier(self.dropout2(x)).squeeze(-1)
        return {
            "audio_hidden": audio_hidden,
            "pitch_hidden": pitch_hidden,
            "lstm_mean": lstm_mean,
            "logit": logit,
        }

    def forward(self, audio, pitch, mfcc):
        return self.forward_stages(audio, pitch, mfcc)["logit"]


def whisper_hidden_states(encoder, mel, layers=None):
    """HF WhisperEncoder's hidden states for a clip-length log-Mel input: the positional embedding
    is narrowed to the clip's frames (HF's own forward insists on 3000 frames; for exactly that
    length this equals it, which gen_whisper_model_fixtures.py checks). Runs the first `layers`
    layers; the final layer_norm is applied only when every layer runs."""
    n = len(encoder.layers) if layers is None else layers
    x = F.gelu(encoder.conv1(mel))
    x = F.gelu(encoder.conv2(x)).permute(0, 2, 1)
    x = x + encoder.embed_positions.weight[: x.shape[1]]
    states = [x]
    for layer in encoder.layers[:n]:
        out = layer(x, attention_mask=None)
        x = out[0] if isinstance(out, tuple) else out
        states.append(x)
    if n == len(encoder.layers):
        states[-1] = encoder.layer_norm(states[-1])
    return states


def pool_frames(x, k):
    """Means over groups of k frames of (B, T, D); the last group averages what it has."""
    if k <= 1:
        return x
    b, t, d = x.shape
    full = t // k
    parts = []
    if full:
        parts.append(x[:, : full * k].reshape(b, full, k, d).mean(2))
    if t % k:
        parts.append(x[:, full * k :].mean(1, keepdim=True))
    return torch.cat(parts, 1)


class WhisperFusedModel(nn.Module):
    """The fused model with Whisper's encoder as the audio branch (emotrace, SPEC §5b):

    mel (B, n_mels, F) -> whisper (HF WhisperEncoder, first `layers` layers) -> hidden states
      0..layers, each optionally layer-normalised without parameters, pooled over `frame_pooling`
      frames -> softmax(layer_weights)-weighted sum -> audio_projection (d_model -> H)
    pitch (B, N) -> pitch_encoder + pitch_projection (as FusedModel) -> pooled the same way
    both cut to the shorter length; the rest exactly as FusedModel.
    """

    def __init__(self, whisper_config, layers, normalize_layers, frame_pooling, w2v_config: Wav2Vec2Config,
                 lstm_hidden=256, cross_heads=16, self_heads=8, fc_dim=512, mfcc_dim=39, attn_ffn_multiplier=4):
        super().__init__()
        from transformers.models.whisper.modeling_whisper import WhisperEncoder
        h = w2v_config.hidden_size
        self.whisper = WhisperEncoder(whisper_config)
        self.whisper.layers = self.whisper.layers[:layers]
        if layers < whisper_config.encoder_layers:
            del self.whisper.layer_norm
            self.whisper.layer_norm = None
        self.n_layers, self.full_layers = layers, whisper_config.encoder_layers
        self.normalize_layers, self.frame_pooling = normalize_layers, frame_pooling
        self.layer_weights = nn.Parameter(torch.zeros(layers + 1))
        self.audio_projection = nn.Linear(whisper_config.d_model, h)
        self.pitch_encoder = Wav2Vec2FeatureEncoder(w2v_config)
        self.pitch_projection = Wav2Vec2FeatureProjection(w2v_config)
        self.lstm = nn.LSTM(mfcc_dim, lstm_hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.attn_a_p = AttentionLayer(h, cross_heads, attn_ffn_multiplier)
        self.attn_p_a = AttentionLayer(h, cross_heads, attn_ffn_multiplier)
        fusion = 2 * h + 2 * lstm_hidden
        self.self_attn = AttentionLayer(fusion, self_heads, attn_ffn_multiplier)
        self.dropout1 = nn.Dropout(0.5)
        self.fc = nn.Linear(fusion, fc_dim)
        self.dropout2 = nn.Dropout(0.5)
        self.classifier = nn.Linear(fc_dim, 1)

    def hidden_states(self, mel):
        x = F.gelu(self.whisper.conv1(mel))
        x = F.gelu(self.whisper.conv2(x)).permute(0, 2, 1)
        x = x + self.whisper.embed_positions.weight[: x.shape[1]]
        states = [x]
        for layer in self.whisper.layers:
            out = layer(x, attention_mask=None)
            x = out[0] if isinstance(out, tuple) else out
            states.append(x)
        if self.whisper.layer_norm is not None:
            states[-1] = self.whisper.layer_norm(states[-1])
        return states

    def forward_stages(self, mel, pitch, mfcc):
        states = self.hidden_states(mel)
        if self.normalize_layers:
            states = [F.layer_norm(s, s.shape[-1:]) for s in states]
        states = torch.stack([pool_frames(s, self.frame_pooling) for s in states], 1)
        w = torch.softmax(self.layer_weights, 0)
        audio_hidden = self.audio_projection((states * w[None, :, None, None]).sum(1))
        pitch_features = self.pitch_encoder(pitch).transpose(1, 2)
        pitch_hidden = pool_frames(self.pitch_projection(pitch_features)[0], self.frame_pooling)
        t = min(audio_hidden.shape[1], pitch_hidden.shape[1])
        audio_hidden, pitch_hidden = audio_hidden[:, :t], pitch_hidden[:, :t]
        lstm_out, _ = self.lstm(mfcc)
        lstm_mean = lstm_out.mean(dim=1)
        a_p = self.attn_a_p(audio_hidden, pitch_hidden)
        p_a = self.attn_p_a(pitch_hidden, audio_hidden)
        cross = torch.cat([a_p, p_a], dim=2).mean(dim=1)
        fused = torch.cat([cross, lstm_mean], dim=1).unsqueeze(1)
        fused = self.self_attn(fused, fused).squeeze(1)
        x = torch.tanh(self.fc(self.dropout1(fused)))
        logit = self.classifier(self.dropout2(x)).squeeze(-1)
        return {"audio_hidden": audio_hidden, "pitch_hidden": pitch_hidden, "lstm_mean": lstm_mean, "logit": logit}
