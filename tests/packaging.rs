//! The Debian package's file list, built without cargo-deb or dpkg: the assets of
//! [package.metadata.deb] in Cargo.toml, with the files `emotrace generate-assets` writes (man
//! pages, completions) generated here as packaging/build-deb.sh does. Checks that the package
//! holds the binary, the desktop entry, every icon size, the metainfo, a man page for emotrace
//! and each subcommand, and the bash/zsh/fish completions; and the desktop entry's and
//! metainfo's contents (with desktop-file-validate and appstreamcli where installed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const ICON_SIZES: [u32; 9] = [16, 22, 24, 32, 48, 64, 128, 256, 512];

/// Installed path -> source file, as cargo-deb lays them out.
struct Package {
    files: BTreeMap<String, PathBuf>,
    deb: toml_edit::Table,
}

fn package(generated: &Path) -> Package {
    let manifest: toml_edit::DocumentMut = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap().parse().unwrap();
    let deb = manifest["package"]["metadata"]["deb"].as_table().expect("[package.metadata.deb]").clone();
    let assets = deb["assets"].as_array().expect("assets");
    let mut files = BTreeMap::new();
    for asset in assets {
        let fields: Vec<&str> = asset.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let (source, dest) = (fields[0], fields[1]);
        let sources: Vec<PathBuf> = if source == "target/release/emotrace" {
            vec![PathBuf::from(env!("CARGO_BIN_EXE_emotrace"))]
        } else if source == "dist/generated/copyright" {
            continue;
        } else if let Some(rest) = source.strip_prefix("dist/generated/") {
            // build-deb.sh gzips the man pages; here they stay plain, so `*.1.gz` matches `*.1`.
            let rest = rest.strip_suffix(".gz").unwrap_or(rest);
            glob(&generated.join(rest))
        } else {
            glob(&Path::new(ROOT).join(source))
        };
        assert!(!sources.is_empty(), "asset {source} matches no file");
        for path in sources {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let name = if source.ends_with(".gz") { format!("{name}.gz") } else { name };
            let installed = if dest.ends_with('/') { format!("/{dest}{name}") } else { format!("/{dest}") };
            files.insert(installed, path);
        }
    }
    Package { files, deb }
}

/// `dir/*.ext`-style patterns (a `*` in the file name only) or a plain path.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern.file_name().unwrap().to_string_lossy().into_owned();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return if pattern.exists() { vec![pattern.to_path_buf()] } else { Vec::new() };
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(pattern.parent().unwrap())
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    found.retain(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix) && n.to_string_lossy().ends_with(suffix)));
    found.sort();
    found
}

fn generate_assets(out: &Path) {
    let run = Command::new(env!("CARGO_BIN_EXE_emotrace")).args(["generate-assets", "--out"]).arg(out).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is a PNG", path.display());
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

fn have(program: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().is_ok_and(|o| o.status.success())
}

#[test]
fn package_holds_binary_desktop_entry_icons_metainfo_man_pages_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    generate_assets(dir.path());
    let package = package(dir.path());
    let files = &package.files;
    for path in [
        "/usr/bin/emotrace",
        "/usr/share/applications/org.emotrace.emotrace.desktop",
        "/usr/share/metainfo/org.emotrace.emotrace.metainfo.xml",
        "/usr/share/icons/hicolor/scalable/apps/emotrace.svg",
        "/usr/share/bash-completion/completions/emotrace",
        "/usr/share/zsh/vendor-completions/_emotrace",
        "/usr/share/fish/vendor_completions.d/emotrace.fish",
        "/usr/share/man/man1/emotrace.1.gz",
    ] {
        assert!(files.contains_key(path), "{path} missing from the package: {:?}", files.keys().collect::<Vec<_>>());
    }
    for size in ICON_SIZES {
        let installed = format!("/usr/share/icons/hicolor/{size}x{size}/apps/emotrace.png");
        let source = files.get(&installed).unwrap_or_else(|| panic!("{installed} missing"));
        assert_eq!(png_size(source), (size, size), "{installed}");
    }
    // One man page per visible subcommand, named as `man emotrace-<subcommand>` finds it.
    for sub in emotrace::cli::Cli::command().get_subcommands().filter(|s| !s.is_hide_set()) {
        let page = format!("/usr/share/man/man1/emotrace-{}.1.gz", sub.get_name());
        assert!(files.contains_key(&page), "{page} missing");
    }
    assert!(!files.keys().any(|p| p.contains("generate-assets")), "the hidden packaging command gets no man page");
    // Nothing outside /usr.
    assert!(files.keys().all(|p| p.starts_with("/usr/")), "{:?}", files.keys().collect::<Vec<_>>());
    // The copyright file comes from build-deb.sh (cargo-about + the bundled parts).
    assert_eq!(files.get("/usr/share/doc/emotrace/copyright"), None, "written by build-deb.sh, so not among the generated files here");
    let copyright_asset = package.deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a.as_array().unwrap().get(1).and_then(|d| d.as_str()) == Some("usr/share/doc/emotrace/copyright"));
    assert!(copyright_asset, "the package installs the generated copyright file");
    let script = std::fs::read_to_string(Path::new(ROOT).join("packaging/build-deb.sh")).unwrap();
    for part in ["cargo about generate", "assets/demo/LICENSE", "assets/fonts/LICENSE-OFL-1.1.txt", "models/default/LICENSE-whisper", "models/speaker_encoder"] {
        assert!(script.contains(part), "build-deb.sh puts {part} in the copyright file");
    }
    let depends = package.deb["depends"].as_str().unwrap();
    for library in ["$auto", "libasound2", "libgl1", "libx11-6", "libxkbcommon"] {
        assert!(depends.contains(library), "depends names {library}: {depends}");
    }
}

#[test]
fn generated_man_pages_and_completions_describe_the_real_command_line() {
    let dir = tempfile::tempdir().unwrap();
    generate_assets(dir.path());
    let analyze = std::fs::read_to_string(dir.path().join("man/emotrace-analyze.1")).unwrap();
    assert!(analyze.contains("emotrace\\-analyze") && analyze.contains("\\-\\-out"), "{}", &analyze[..analyze.len().min(600)]);
    let top = std::fs::read_to_string(dir.path().join("man/emotrace.1")).unwrap();
    assert!(top.contains("emotrace\\-demo(1)") || top.contains("demo"), "the top page lists the subcommands");
    for (file, needle) in [("emotrace.bash", "analyze"), ("_emotrace", "analyze"), ("emotrace.fish", "analyze")] {
        let script = std::fs::read_to_string(dir.path().join("completions").join(file)).unwrap();
        assert!(script.contains(needle) && script.contains("make-call"), "{file} completes the subcommands");
    }
}

#[test]
fn desktop_entry_and_metainfo_describe_the_app() {
    let desktop = std::fs::read_to_string(Path::new(ROOT).join("packaging/org.emotrace.emotrace.desktop")).unwrap();
    let entries: BTreeMap<&str, &str> = desktop.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(entries["Exec"], "emotrace %f");
    assert_eq!(entries["Icon"], "emotrace");
    assert_eq!(entries["Categories"], "AudioVideo;Audio;Science;MedicalSoftware;");
    assert!(entries.contains_key("Name[zh_CN]") && entries.contains_key("Comment[zh_CN]") && entries.contains_key("Comment"));
    let mime: Vec<&str> = entries["MimeType"].split(';').filter(|m| !m.is_empty()).collect();
    for wanted in ["audio/wav", "audio/x-wav", "audio/flac", "audio/mpeg", "audio/ogg", "audio/mp4"] {
        assert!(mime.contains(&wanted), "MimeType lists {wanted}");
    }
    let metainfo = std::fs::read_to_string(Path::new(ROOT).join("packaging/org.emotrace.emotrace.metainfo.xml")).unwrap();
    for needle in [
        "<id>org.emotrace.emotrace</id>",
        "<launchable type=\"desktop-id\">org.emotrace.emotrace.desktop</launchable>",
        "<content_rating type=\"oars-1.1\"/>",
        "<project_license>MIT OR Apache-2.0</project_license>",
        "<screenshot type=\"default\">",
        "does not diagnose",
    ] {
        assert!(metainfo.contains(needle), "metainfo has {needle}");
    }
    if have("desktop-file-validate") {
        let run = Command::new("desktop-file-validate").arg(Path::new(ROOT).join("packaging/org.emotrace.emotrace.desktop")).output().unwrap();
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success() && !text.contains("error"), "desktop-file-validate: {text}");
    }
    if have("appstreamcli") {
        let run = Command::new("appstreamcli")
            .args(["validate", "--no-net"])
            .arg(Path::new(ROOT).join("packaging/org.emotrace.emotrace.metainfo.xml"))
            .output()
            .unwrap();
        assert!(run.status.success(), "appstreamcli validate: {}", String::from_utf8_lossy(&run.stdout));
    }
}
