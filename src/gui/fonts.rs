//! The bundled CJK font: Chinese labels and Chinese file names must render on any machine, with
//! or without system CJK fonts. See assets/fonts/LICENSE-OFL-1.1.txt.

use eframe::egui::{self, FontData, FontFamily, FontInsert, FontPriority, InsertFontFamily};

/// Noto Sans CJK SC cut to ASCII, Latin-1, CJK punctuation and GB 2312
/// (scripts/make_cjk_font_subset.py).
pub const CJK_FONT: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-subset.otf");

/// Adds the CJK font after egui's own fonts, so Latin text keeps egui's look.
pub fn install(ctx: &egui::Context) {
    let fallback = |family| InsertFontFamily { family, priority: FontPriority::Lowest };
    ctx.add_font(FontInsert::new(
        "noto-sans-sc-subset",
        FontData::from_static(CJK_FONT),
        vec![fallback(FontFamily::Proportional), fallback(FontFamily::Monospace)],
    ));
}
