//! Charts drawn on the server as SVG: no script, no library, readable without colour (every
//! bar and point carries its value as text). Labels are escaped here, since the SVG is put
//! into the page as it is.

use std::fmt::Write as _;

/// Escapes text for SVG (XML).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Horizontal bars, one per `(label, value)`, scaled to `max`, each value printed with
/// `unit` after it.
pub fn bars(title: &str, items: &[(String, f64)], max: f64, unit: &str) -> String {
    let row = 24;
    let height = 30 + row * items.len().max(1);
    let mut out = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 640 {height}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        escape(title),
        escape(title)
    );
    let max = if max > 0.0 { max } else { 1.0 };
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 20 + i * row;
        let w = (v / max * 380.0).clamp(0.0, 380.0);
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"160\" y=\"{}\" width=\"{w:.1}\" height=\"16\" fill=\"#0b4f8a\"/><text x=\"{:.1}\" y=\"{}\">{}{}</text>",
            y + 12,
            escape(&truncate(label, 24)),
            y,
            166.0 + w,
            y + 12,
            format_value(*v),
            escape(unit)
        );
    }
    out.push_str("</svg>");
    out
}

/// A line over time, one point per `(label, value)`.
pub fn line(title: &str, points: &[(String, f64)], unit: &str) -> String {
    let (w, h, left, top) = (640.0, 200.0, 40.0, 20.0);
    let max = points.iter().map(|p| p.1).fold(0.0_f64, f64::max).max(1.0);
    let n = points.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (w - left - 40.0) * i as f64 / n;
    let y = |v: f64| top + (h - top - 40.0) * (1.0 - v / max);
    let mut out = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\"><title>{}</title><line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#767676\"/>",
        escape(title),
        escape(title),
        h - 40.0,
        w - 20.0,
        h - 40.0
    );
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.1)))
        .collect();
    let _ = write!(
        out,
        "<polyline fill=\"none\" stroke=\"#0b4f8a\" stroke-width=\"2\" points=\"{}\"/>",
        path.join(" ")
    );
    for (i, (label, v)) in points.iter().enumerate() {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#0b4f8a\"/><text x=\"{:.1}\" y=\"{:.1}\">{}{}</text><text x=\"{:.1}\" y=\"{}\">{}</text>",
            x(i),
            y(*v),
            x(i) - 8.0,
            y(*v) - 6.0,
            format_value(*v),
            escape(unit),
            x(i) - 24.0,
            h - 24.0,
            escape(&truncate(label, 12))
        );
    }
    out.push_str("</svg>");
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn format_value(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let svg = bars("t", &[("<script>alert(1)</script>".into(), 3.0)], 3.0, "%");
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        let svg = line("t", &[("a\"b".into(), 1.0), ("c".into(), 2.0)], "");
        assert!(svg.contains("a&quot;b"));
    }
}
