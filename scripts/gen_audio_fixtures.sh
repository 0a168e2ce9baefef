#!/usr/bin/env bash
# Regenerates the small compressed-audio fixtures under tests/fixtures/audio (run by hand; the
# tests never call ffmpeg). Needs Debian's ffmpeg. Every fixture is a synthetic signal we made, so
# it may be committed. Durations are chosen to be non-round so a container-metadata shortcut
# would show up as a wrong answer.
set -euo pipefail
out="$(dirname "$0")/../tests/fixtures/audio"
mkdir -p "$out"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }

# 44.1 kHz stereo MP3, 2.345 s: a 440 Hz tone left, a 660 Hz tone right.
ff -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=2.345" \
   -f lavfi -i "sine=frequency=660:sample_rate=44100:duration=2.345" \
   -filter_complex "[0][1]amerge=inputs=2" -c:a libmp3lame -b:a 64k "$out/tone_44k1_stereo.mp3"
# 48 kHz 6-channel FLAC, 1.5 s, 24-bit: a different tone on every channel.
ff -f lavfi -i "aevalsrc=0.3*sin(200*2*PI*t)|0.3*sin(300*2*PI*t)|0.3*sin(400*2*PI*t)|0.3*sin(500*2*PI*t)|0.3*sin(600*2*PI*t)|0.3*sin(700*2*PI*t):s=48000:d=1.5:c=5.1" \
   -c:a flac -sample_fmt s32 "$out/tones_48k_6ch.flac"
# 22.05 kHz mono Ogg Vorbis, 1.777 s.
ff -f lavfi -i "sine=frequency=1000:sample_rate=22050:duration=1.777" -c:a libvorbis -q:a 2 "$out/tone_22k05_mono.ogg"
# 16 kHz mono AAC in an M4A (MP4) container, 1.25 s.
ff -f lavfi -i "sine=frequency=500:sample_rate=16000:duration=1.25" -c:a aac -b:a 32k "$out/tone_16k_mono.m4a"
# Opus in Ogg: a codec symphonia 0.5 cannot decode, for the unsupported-codec error.
ff -f lavfi -i "sine=frequency=500:sample_rate=48000:duration=0.5" -c:a libopus -b:a 16k "$out/unsupported_opus.ogg"
ls -l "$out"
