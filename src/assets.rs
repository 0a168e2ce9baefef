//! Files shipped inside the binary.

/// Noto Sans CJK SC cut to ASCII, Latin-1, CJK punctuation and GB 2312, so Chinese text renders
/// in the window and in figures on machines without CJK fonts.
/// Made by scripts/make_cjk_font_subset.py; licence in assets/fonts/LICENSE-OFL-1.1.txt.
pub const CJK_FONT: &[u8] = include_bytes!("../assets/fonts/NotoSansSC-subset.otf");
