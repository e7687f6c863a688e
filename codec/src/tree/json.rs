//! JSON exactly as Go's `encoding/json` writes it (FORMAT.md §4.0, ANCHORS.md §D.2–D.4).

use serde::Serialize;

/// One of the Go writer configurations used by the tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Two-space indentation (`MarshalIndent` / `SetIndent("", "  ")`).
    pub indent: bool,
    /// Escape `<`, `>`, `&` as `\u003c` … (Go's default).
    pub escape_html: bool,
    /// Append `\n` (`Encoder.Encode` does, `Marshal*` does not).
    pub newline: bool,
}

impl Style {
    /// `json.MarshalIndent(v, "", "  ")`: per-record files.
    pub const MARSHAL_INDENT: Style = Style { indent: true, escape_html: true, newline: false };
    /// `json.Marshal(v)`: compact, HTML-escaped (stream lines, encoder values).
    pub const MARSHAL: Style = Style { indent: false, escape_html: true, newline: false };
    /// `Encoder` with `SetEscapeHTML(false)`: JSONL lines.
    pub const JSONL: Style = Style { indent: false, escape_html: false, newline: true };
    /// MANIFEST.json: indented, HTML escaping off, trailing newline.
    pub const MANIFEST: Style = Style { indent: true, escape_html: false, newline: true };
    /// ENCODE_INFO.json: indented, HTML escaping on, trailing newline.
    pub const ENCODE_INFO: Style = Style { indent: true, escape_html: true, newline: true };
}

/// Serializes `value` in `style`. Floats use Go's shortest-round-trip layout.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, style: Style) -> Vec<u8> {
    let _ = (value, style);
    todo!("tree helper")
}

/// Go's `encoding/json` rendering of a finite float64 (`1`, `0.000001`, `1e-7`, `1e+21`, `-0`).
pub fn format_f64(value: f64) -> String {
    let _ = value;
    todo!("tree helper")
}
