//! PDF: a report a SOX auditor can read — a title page, a summary, tables that repeat their
//! header on every page, the exceptions, the reviewers' quality signals, the sign-off with
//! space for the auditor's signature, and the inclusion proofs as an appendix. Every page's
//! footer names the campaign and the checkpoint.
//!
//! The layout is computed first, as pages of drawing operations, and then drawn with krilla
//! (text in DejaVu Sans Condensed, embedded and subset). Text is measured with the font's own
//! advance widths, so columns wrap where the text would overflow.

use std::collections::HashMap;

use gatehouse_workflow::campaigns::report::{
    CampaignReport, EventProof, EvidencePack, HistoryReport,
};
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};

use crate::rows::{self, Cell};
use crate::{EvidenceError, day, stamp};

const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-Bold.ttf");

/// A4 landscape, in points.
const WIDTH: f32 = 842.0;
const HEIGHT: f32 = 595.0;
const MARGIN: f32 = 40.0;
const BOTTOM: f32 = HEIGHT - 50.0;

/// Advance widths of one font, per character, in ems.
struct Measure {
    widths: HashMap<char, f32>,
    font: skrifa::FontRef<'static>,
    upem: f32,
}

impl Measure {
    fn new(bytes: &'static [u8]) -> Result<Measure, EvidenceError> {
        let font = skrifa::FontRef::new(bytes)
            .map_err(|e| EvidenceError::Pdf(format!("the embedded font cannot be read: {e}")))?;
        let upem = f32::from(
            font.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        Ok(Measure {
            widths: HashMap::new(),
            font,
            upem,
        })
    }

    fn em(&mut self, ch: char) -> f32 {
        if let Some(w) = self.widths.get(&ch) {
            return *w;
        }
        let gid = self.font.charmap().map(ch).unwrap_or_default();
        let w = self
            .font
            .glyph_metrics(Size::unscaled(), LocationRef::default())
            .advance_width(gid)
            .unwrap_or(self.upem * 0.5)
            / self.upem;
        self.widths.insert(ch, w);
        w
    }

    fn width(&mut self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.em(c)).sum::<f32>() * size
    }
}

/// One drawing operation.
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    /// A filled rectangle, in grey levels (0 black, 255 white).
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        grey: u8,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
    },
}

/// The layout: pages of operations and a cursor.
struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
    regular: Measure,
    bold: Measure,
    footer: String,
}

impl Layout {
    fn new(footer: String) -> Result<Layout, EvidenceError> {
        Ok(Layout {
            pages: vec![Vec::new()],
            y: MARGIN,
            regular: Measure::new(REGULAR)?,
            bold: Measure::new(BOLD)?,
            footer,
        })
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    /// Starts a new page unless `h` points still fit.
    fn need(&mut self, h: f32) {
        if self.y + h > BOTTOM {
            self.new_page();
        }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        self.ops().push(Op::Text {
            x,
            y,
            size,
            bold,
            // Imported text is shown as stored: control characters escaped, never obeyed.
            text: gatehouse_model::text::visible(text).into_owned(),
        });
    }

    fn measure(&mut self, text: &str, size: f32, bold: bool) -> f32 {
        if bold {
            self.bold.width(text, size)
        } else {
            self.regular.width(text, size)
        }
    }

    /// Splits text into lines no wider than `width`, at most `max` of them (the last ends
    /// with `…` when text was left out).
    fn wrap(&mut self, text: &str, size: f32, bold: bool, width: f32, max: usize) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for para in text.split('\n') {
            let para = gatehouse_model::text::visible(para);
            let mut line = String::new();
            for word in para.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.measure(&candidate, size, bold) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // A word wider than the column is cut.
                let mut piece = String::new();
                for ch in word.chars() {
                    piece.push(ch);
                    if self.measure(&piece, size, bold) > width {
                        piece.pop();
                        lines.push(std::mem::take(&mut piece));
                        piece.push(ch);
                    }
                }
                line = piece;
            }
            lines.push(line);
        }
        if lines.len() > max {
            lines.truncate(max);
            if let Some(last) = lines.last_mut() {
                while !last.is_empty() && self.measure(&format!("{last}…"), size, bold) > width {
                    last.pop();
                }
                last.push('…');
            }
        }
        lines
    }

    fn heading(&mut self, text: &str) {
        self.need(40.0);
        self.y += 10.0;
        let y = self.y + 14.0;
        self.text(MARGIN, y, 14.0, true, text);
        self.y += 22.0;
    }

    fn paragraph(&mut self, text: &str, size: f32) {
        let lines = self.wrap(text, size, false, WIDTH - 2.0 * MARGIN, usize::MAX);
        for l in lines {
            self.need(size * 1.4);
            let y = self.y + size;
            self.text(MARGIN, y, size, false, &l);
            self.y += size * 1.4;
        }
        self.y += 4.0;
    }

    /// Field and value pairs, the values wrapped.
    fn pairs(&mut self, pairs: &[(String, String)]) {
        let size = 8.5;
        let key_w = 170.0;
        let val_w = WIDTH - 2.0 * MARGIN - key_w;
        for (k, v) in pairs {
            let lines = self.wrap(v, size, false, val_w, 12);
            let h = lines.len().max(1) as f32 * size * 1.35 + 3.0;
            self.need(h);
            let y = self.y + size;
            self.text(MARGIN, y, size, true, k);
            for (i, l) in lines.iter().enumerate() {
                let ly = y + i as f32 * size * 1.35;
                self.text(MARGIN + key_w, ly, size, false, l);
            }
            self.y += h;
        }
    }

    /// A table whose columns share the page's width in proportion to `weights`; the header
    /// row is repeated on every page; rows are shaded in turn.
    fn table(
        &mut self,
        headers: &[&str],
        weights: &[f32],
        rows: &[Vec<String>],
        size: f32,
        max_lines: usize,
    ) {
        let total: f32 = weights.iter().sum();
        let width = WIDTH - 2.0 * MARGIN;
        let cols: Vec<f32> = weights.iter().map(|w| w / total * width).collect();
        let pad = 2.0;
        let line = size * 1.3;
        let header_lines: Vec<Vec<String>> = headers
            .iter()
            .zip(&cols)
            .map(|(h, w)| self.wrap(h, size, true, w - 2.0 * pad, 3))
            .collect();
        let header_h =
            header_lines.iter().map(Vec::len).max().unwrap_or(1) as f32 * line + 2.0 * pad;
        let draw_header = |l: &mut Layout| {
            let y0 = l.y;
            l.ops().push(Op::Rect {
                x: MARGIN,
                y: y0,
                w: width,
                h: header_h,
                grey: 200,
            });
            let mut x = MARGIN;
            for (lines, w) in header_lines.iter().zip(&cols) {
                for (i, t) in lines.iter().enumerate() {
                    l.text(x + pad, y0 + pad + size + i as f32 * line, size, true, t);
                }
                x += w;
            }
            l.y += header_h;
        };
        self.need(header_h + line * 2.0);
        draw_header(self);
        for (r, row) in rows.iter().enumerate() {
            let cells: Vec<Vec<String>> = row
                .iter()
                .zip(&cols)
                .map(|(c, w)| self.wrap(c, size, false, w - 2.0 * pad, max_lines))
                .collect();
            let h = cells.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * line + 2.0 * pad;
            if self.y + h > BOTTOM {
                self.new_page();
                draw_header(self);
            }
            let y0 = self.y;
            if r % 2 == 1 {
                self.ops().push(Op::Rect {
                    x: MARGIN,
                    y: y0,
                    w: width,
                    h,
                    grey: 242,
                });
            }
            let mut x = MARGIN;
            for (lines, w) in cells.iter().zip(&cols) {
                for (i, t) in lines.iter().enumerate() {
                    self.text(x + pad, y0 + pad + size + i as f32 * line, size, false, t);
                }
                x += w;
            }
            self.y += h;
        }
        self.y += 8.0;
    }

    /// A signature line: a label, a line to sign on, and a line for the date.
    fn signature(&mut self, label: &str) {
        self.need(50.0);
        self.y += 30.0;
        let y = self.y;
        self.ops().push(Op::Line {
            x1: MARGIN,
            y1: y,
            x2: MARGIN + 300.0,
            y2: y,
        });
        self.ops().push(Op::Line {
            x1: MARGIN + 340.0,
            y1: y,
            x2: MARGIN + 480.0,
            y2: y,
        });
        self.text(MARGIN, y + 11.0, 8.0, false, label);
        self.text(MARGIN + 340.0, y + 11.0, 8.0, false, "date");
        self.y += 18.0;
    }

    fn finish(mut self, title: &str) -> Result<Vec<u8>, EvidenceError> {
        let count = self.pages.len();
        let footer = self.footer.clone();
        for (i, page) in self.pages.iter_mut().enumerate() {
            page.push(Op::Text {
                x: MARGIN,
                y: HEIGHT - 25.0,
                size: 7.0,
                bold: false,
                text: format!("{footer} — page {} of {count}", i + 1),
            });
        }
        render(&self.pages, title)
    }
}

fn render(pages: &[Vec<Op>], title: &str) -> Result<Vec<u8>, EvidenceError> {
    let regular = Font::new(REGULAR.to_vec().into(), 0)
        .ok_or_else(|| EvidenceError::Pdf("the embedded font cannot be read".into()))?;
    let bold = Font::new(BOLD.to_vec().into(), 0)
        .ok_or_else(|| EvidenceError::Pdf("the embedded bold font cannot be read".into()))?;
    let settings = PageSettings::from_wh(WIDTH, HEIGHT)
        .ok_or_else(|| EvidenceError::Pdf("invalid page size".into()))?;
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(title.to_owned())
            .creator("Gatehouse".into())
            .producer("Gatehouse (krilla)".into()),
    );
    let black = Fill {
        paint: rgb::Color::new(0, 0, 0).into(),
        ..Fill::default()
    };
    for ops in pages {
        let mut page = doc.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Rect { x, y, w, h, grey } => {
                    let mut pb = PathBuilder::new();
                    if let Some(rect) = krilla::geom::Rect::from_xywh(*x, *y, *w, *h) {
                        pb.push_rect(rect);
                    }
                    if let Some(path) = pb.finish() {
                        surface.set_stroke(None);
                        surface.set_fill(Some(Fill {
                            paint: rgb::Color::new(*grey, *grey, *grey).into(),
                            ..Fill::default()
                        }));
                        surface.draw_path(&path);
                    }
                }
                Op::Line { x1, y1, x2, y2 } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1, *y1);
                    pb.line_to(*x2, *y2);
                    if let Some(path) = pb.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            width: 0.6,
                            ..Stroke::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                    }
                }
                Op::Text {
                    x,
                    y,
                    size,
                    bold: b,
                    text,
                } => {
                    surface.set_fill(Some(black.clone()));
                    surface.draw_text(
                        Point::from_xy(*x, *y),
                        if *b { bold.clone() } else { regular.clone() },
                        *size,
                        text,
                        false,
                        TextDirection::Auto,
                    );
                }
            }
        }
        surface.finish();
        page.finish();
    }
    doc.finish()
        .map_err(|e| EvidenceError::Pdf(format!("{e:?}")))
}

fn cells(row: Vec<Cell>) -> Vec<String> {
    row.into_iter()
        .map(|c| match c {
            Cell::Text(t) => t,
            Cell::Number(n) => n.to_string(),
            Cell::Decimal(x) => format!("{x:.1}"),
        })
        .collect()
}

fn title_page(l: &mut Layout, title: &str, subtitle: &str, facts: &[(String, String)]) {
    l.y = 150.0;
    l.text(MARGIN, l.y, 26.0, true, title);
    l.y += 34.0;
    for line in l.wrap(subtitle, 13.0, false, WIDTH - 2.0 * MARGIN, 4) {
        let y = l.y;
        l.text(MARGIN, y, 13.0, false, &line);
        l.y += 18.0;
    }
    l.y += 30.0;
    l.pairs(facts);
}

fn proofs_appendix(l: &mut Layout, cp_root: &str, cp_size: u64, note: &str, proofs: &[EventProof]) {
    l.new_page();
    l.heading("Appendix: the ledger");
    l.paragraph(
        &format!(
            "Every row of this report names the events of the Gatehouse ledger that record it. \
             The ledger is an RFC 6962 Merkle tree; the checkpoint below was signed with the \
             instance's Ed25519 key. Each proof shows that an event is leaf `index` of the \
             tree of {cp_size} events whose root is {cp_root}: hash the event's canonical \
             bytes as the leaf, combine it with the audit path, and compare with the root \
             (gatehouse-verify does this offline from an evidence bundle)."
        ),
        8.5,
    );
    l.paragraph("The signed checkpoint:", 8.5);
    for line in note.lines() {
        l.need(11.0);
        let y = l.y + 7.5;
        l.text(MARGIN + 10.0, y, 7.5, false, line);
        l.y += 11.0;
    }
    l.y += 6.0;
    let rows: Vec<Vec<String>> = proofs.iter().map(|p| cells(rows::proof_cells(p))).collect();
    l.table(
        rows::PROOF_HEADERS,
        &[6.0, 10.0, 30.0, 6.0, 80.0],
        &rows,
        5.5,
        40,
    );
}

pub(crate) fn campaign(r: &CampaignReport) -> Result<Vec<u8>, EvidenceError> {
    let c = &r.campaign;
    let mut l = Layout::new(format!(
        "Gatehouse access review evidence — {} — generated {} — checkpoint of {} events",
        c.id,
        stamp(r.generated_at),
        r.checkpoint.size
    ))?;
    let title = format!("Access review {}", c.id);
    title_page(
        &mut l,
        &title,
        &c.created.name,
        &[
            ("This report answers".into(), r.question.clone()),
            ("Generated".into(), stamp(r.generated_at)),
            (
                "Tied to the ledger at".into(),
                format!(
                    "the checkpoint of {} events, root {}, signed {}",
                    r.checkpoint.size,
                    r.checkpoint.root,
                    stamp(r.checkpoint.signed_at)
                ),
            ),
            (
                "Population".into(),
                c.launch
                    .as_ref()
                    .map(|x| format!("{} items, SHA-256 {}", x.items, x.population_sha256))
                    .unwrap_or_default(),
            ),
            (
                "Sign-off".into(),
                c.closing
                    .as_ref()
                    .map(|s| {
                        format!(
                            "{} on {}",
                            s.signed_off_by,
                            c.closed_at.map(day).unwrap_or_default()
                        )
                    })
                    .unwrap_or_else(|| "not signed off".into()),
            ),
        ],
    );
    l.new_page();
    l.heading("Summary");
    l.pairs(&rows::summary(r));
    l.heading("Exceptions");
    if r.exceptions.is_empty() {
        l.paragraph("None.", 9.0);
    } else {
        let rows: Vec<Vec<String>> = r.exceptions.iter().map(|e| vec![e.clone()]).collect();
        l.table(&["exception"], &[1.0], &rows, 7.5, 6);
    }
    l.heading("Items");
    let rows: Vec<Vec<String>> = r
        .items
        .iter()
        .map(|i| {
            let d = i.row.decision.as_ref();
            let it = &i.row.item;
            vec![
                i.row.reference().to_string(),
                match (&it.identity, &it.context.name) {
                    (Some(k), Some(n)) => format!("{n} ({k})"),
                    (Some(k), None) => k.to_string(),
                    _ => it
                        .role
                        .as_ref()
                        .map(|r| format!("role {r}"))
                        .unwrap_or_default(),
                },
                format!("{}:{}", it.system, it.account.clone().unwrap_or_default()),
                match &it.context.entitlement_name {
                    Some(n) => format!("{} ({n})", it.entitlement),
                    None => it.entitlement.clone(),
                },
                format!("{}: {}", it.recommendation, it.reason),
                d.map(|d| match d.until {
                    Some(u) => format!("{} {}", d.verdict, day(u)),
                    None => d.verdict.to_string(),
                })
                .unwrap_or_else(|| "undecided".into()),
                d.map(|d| {
                    format!(
                        "{} {} ({})",
                        d.by.as_ref()
                            .map(|b| b.to_string())
                            .unwrap_or_else(|| "deadline".into()),
                        day(d.at),
                        rows::origin(d.origin)
                    )
                })
                .unwrap_or_default(),
                d.and_then(|d| d.comment.clone()).unwrap_or_default(),
                i.task
                    .as_ref()
                    .map(|t| format!("{} (due {})", t.status, day(t.task.due)))
                    .unwrap_or_default(),
                i.events()
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    l.table(
        &[
            "item",
            "holder",
            "account",
            "entitlement",
            "recommendation",
            "decision",
            "by, on",
            "comment",
            "remediation",
            "events",
        ],
        &[7.0, 14.0, 10.0, 14.0, 16.0, 8.0, 14.0, 16.0, 10.0, 8.0],
        &rows,
        6.5,
        4,
    );
    let tasks: Vec<Vec<String>> = r
        .items
        .iter()
        .filter(|i| i.task.is_some())
        .map(|i| {
            let t = i.task.as_ref();
            vec![
                i.row.reference().to_string(),
                t.map(|t| t.status.to_string()).unwrap_or_default(),
                rows::paths(i),
                t.and_then(|t| t.note.clone()).unwrap_or_default(),
                t.and_then(|t| {
                    t.verified_at.map(|v| {
                        format!(
                            "{} (import event {})",
                            day(v),
                            t.verified_import.unwrap_or(0)
                        )
                    })
                })
                .unwrap_or_default(),
                t.and_then(|t| t.reopen_reason.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    if !tasks.is_empty() {
        l.heading("Remediation of revoked access");
        l.table(
            &[
                "item",
                "status",
                "every path to the access",
                "what was done",
                "verified",
                "reopened",
            ],
            &[7.0, 7.0, 36.0, 18.0, 12.0, 20.0],
            &tasks,
            6.5,
            6,
        );
    }
    l.heading("Reviewers");
    let q: Vec<Vec<String>> = r
        .quality
        .iter()
        .map(|x| cells(rows::quality_cells(x)))
        .collect();
    if q.is_empty() {
        l.paragraph("No reviewer decided an item.", 9.0);
    } else {
        l.table(
            rows::QUALITY_HEADERS,
            &[8.0, 6.0, 6.0, 6.0, 6.0, 6.0, 8.0, 8.0, 9.0, 8.0, 30.0],
            &q,
            7.0,
            4,
        );
    }
    l.heading("Sign-off");
    match &c.closing {
        Some(s) => {
            l.paragraph(&format!("\u{201c}{}\u{201d}", s.statement), 10.0);
            l.paragraph(
                &format!(
                    "Signed off in Gatehouse by {} on {}{}. The sign-off is event {} of the ledger.",
                    s.signed_off_by,
                    c.closed_at.map(stamp).unwrap_or_default(),
                    s.forced
                        .as_ref()
                        .map(|f| format!(", closed early: {f}"))
                        .unwrap_or_default(),
                    c.seq
                ),
                9.0,
            );
        }
        None => l.paragraph("The campaign is not signed off yet.", 9.0),
    }
    l.signature("campaign owner");
    l.signature("reviewed by (auditor)");
    proofs_appendix(
        &mut l,
        &r.checkpoint.root,
        r.checkpoint.size,
        &r.checkpoint.note,
        &r.proofs,
    );
    l.finish(&format!("{title}: {}", c.created.name))
}

pub(crate) fn pack(p: &EvidencePack) -> Result<Vec<u8>, EvidenceError> {
    let mut l = Layout::new(format!(
        "Gatehouse control evidence pack — {} — generated {} — checkpoint of {} events",
        p.framework,
        stamp(p.generated_at),
        p.checkpoint.size
    ))?;
    let title = format!("Control evidence: {}", p.framework);
    title_page(&mut l, &title, &p.question, &rows::pack_summary(p));
    l.new_page();
    l.heading("Controls");
    let controls: Vec<Vec<String>> = rows::control_cells(p).into_iter().map(cells).collect();
    l.table(
        rows::CONTROL_HEADERS,
        &[6.0, 8.0, 14.0, 30.0, 6.0, 24.0, 6.0, 6.0],
        &controls,
        7.0,
        6,
    );
    for c in &p.controls {
        l.heading(&format!("{} {}: sample", c.control.id, c.control.title));
        l.paragraph(
            &format!(
                "{} of {} items, drawn with seed `{}:{}`. {}",
                c.sample.len(),
                c.population,
                p.seed,
                c.control.id,
                c.control.objective
            ),
            8.5,
        );
        let rows: Vec<Vec<String>> = c
            .sample
            .iter()
            .map(|i| {
                let d = i.row.decision.as_ref();
                vec![
                    i.row.reference().to_string(),
                    i.row
                        .item
                        .identity
                        .as_ref()
                        .map(|k| k.to_string())
                        .unwrap_or_default(),
                    format!("{}:{}", i.row.item.system, i.row.item.entitlement),
                    d.map(|d| d.verdict.to_string())
                        .unwrap_or_else(|| "undecided".into()),
                    d.and_then(|d| d.by.as_ref().map(|b| b.to_string()))
                        .unwrap_or_default(),
                    d.map(|d| day(d.at)).unwrap_or_default(),
                    d.and_then(|d| d.comment.clone()).unwrap_or_default(),
                    i.task
                        .as_ref()
                        .map(|t| t.status.to_string())
                        .unwrap_or_default(),
                    i.events()
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            })
            .collect();
        if !rows.is_empty() {
            l.table(
                &[
                    "item",
                    "holder",
                    "entitlement",
                    "decision",
                    "by",
                    "on",
                    "comment",
                    "remediation",
                    "events",
                ],
                &[8.0, 8.0, 20.0, 8.0, 8.0, 8.0, 22.0, 8.0, 10.0],
                &rows,
                6.5,
                3,
            );
        }
        if !c.exceptions.is_empty() {
            let rows: Vec<Vec<String>> = c.exceptions.iter().map(|e| vec![e.clone()]).collect();
            l.table(&["exception"], &[1.0], &rows, 7.0, 4);
        }
    }
    l.signature("prepared by");
    l.signature("tested by (auditor)");
    proofs_appendix(
        &mut l,
        &p.checkpoint.root,
        p.checkpoint.size,
        &p.checkpoint.note,
        &p.proofs,
    );
    l.finish(&title)
}

pub(crate) fn history(h: &HistoryReport) -> Result<Vec<u8>, EvidenceError> {
    let mut l = Layout::new(format!(
        "Gatehouse access review history — generated {} — checkpoint of {} events",
        stamp(h.generated_at),
        h.checkpoint.size
    ))?;
    title_page(
        &mut l,
        "Access review history",
        &h.question,
        &rows::history_summary(h),
    );
    l.new_page();
    l.heading("Revocation rate per system and campaign");
    let rows: Vec<Vec<String>> = rows::history_cells(h).into_iter().map(cells).collect();
    l.table(
        rows::HISTORY_HEADERS,
        &[8.0, 10.0, 8.0, 10.0, 6.0, 6.0, 8.0, 8.0],
        &rows,
        7.5,
        2,
    );
    l.heading("Findings that keep coming back");
    let rows: Vec<Vec<String>> = h
        .recurring_findings
        .iter()
        .map(|(f, n)| vec![f.clone(), n.to_string()])
        .collect();
    l.table(&["finding", "campaigns"], &[3.0, 1.0], &rows, 8.0, 2);
    l.heading("Reviewers whose items were escalated, replaced or defaulted");
    let rows: Vec<Vec<String>> = h
        .overdue_reviewers
        .iter()
        .map(|(r, e, d)| vec![r.clone(), e.to_string(), d.to_string()])
        .collect();
    l.table(
        &["reviewer", "escalated or replaced", "defaulted"],
        &[2.0, 1.0, 1.0],
        &rows,
        8.0,
        2,
    );
    l.finish("Access review history")
}
