//! The bundled CJK font: Chinese labels and Chinese file names must render on any machine, with
//! or without system CJK fonts. See assets/fonts/LICENSE-OFL-1.1.txt.

use eframe::egui::{self, FontData, FontFamily, FontInsert, FontPriority, InsertFontFamily};

use crate::assets::CJK_FONT;

/// Adds the CJK font after egui's own fonts, so Latin text keeps egui's look.
pub fn install(ctx: &egui::Context) {
    let fallback = |family| InsertFontFamily { family, priority: FontPriority::Lowest };
    ctx.add_font(FontInsert::new(
        "noto-sans-sc-subset",
        FontData::from_static(CJK_FONT),
        vec![fallback(FontFamily::Proportional), fallback(FontFamily::Monospace)],
    ));
}
