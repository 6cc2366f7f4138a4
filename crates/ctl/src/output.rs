//! Output: aligned tables for people, JSON for scripts (one document per line; listings are
//! JSON lines, one item per line), and errors with the problem's title, detail and request id.

use std::io::Write;

use serde::Serialize;

use crate::cli::Format;

pub struct Output {
    pub format: Format,
}

impl Output {
    pub fn new(format: Format) -> Output {
        Output { format }
    }

    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// One JSON document on one line.
    pub fn line<T: Serialize + ?Sized>(&self, value: &T) {
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer(&mut out, value);
        let _ = out.write_all(b"\n");
    }

    /// A single object: JSON, or `key  value` lines.
    pub fn object<T: Serialize>(&self, value: &T, fields: &[(&str, String)]) {
        if self.json() {
            self.line(value);
        } else {
            let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            let mut out = std::io::stdout().lock();
            for (k, v) in fields {
                let _ = writeln!(out, "{k:<width$}  {v}");
            }
        }
    }

    /// A listing: JSON lines, or an aligned table.
    pub fn list<T: Serialize>(
        &self,
        items: &[T],
        headers: &[&str],
        row: impl Fn(&T) -> Vec<String>,
    ) {
        if self.json() {
            for item in items {
                self.line(item);
            }
        } else {
            print_table(headers, items.iter().map(row).collect());
        }
    }

    /// A short message for people (nothing in JSON mode).
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.json() {
            println!("{}", msg.as_ref());
        }
    }
}

/// Prints rows under headers, each column as wide as its widest cell.
pub fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |out: &mut std::io::StdoutLock, cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut s = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                s.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                s.push_str(cell);
                s.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(&mut out, headers.to_vec());
    for row in &rows {
        line(&mut out, row.iter().map(String::as_str).collect());
    }
}

/// Cuts text to `max` characters for a table cell.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "-".into())
}

/// An error for people: title, detail and request id (and the field errors).
pub fn print_error(e: &palisade_client::Error) {
    let mut err = std::io::stderr().lock();
    match e.problem() {
        Some(p) => {
            let _ = writeln!(err, "error: {} ({}, HTTP {})", p.title, p.code, p.status);
            let _ = writeln!(err, "  detail: {}", p.detail);
            if let Some(errors) = &p.errors {
                for (field, msgs) in errors {
                    let field = if field.is_empty() { "(body)" } else { field };
                    for m in msgs {
                        let _ = writeln!(err, "  {field}: {m}");
                    }
                }
            }
            let _ = writeln!(err, "  request id: {}", p.request_id);
        }
        None => {
            let _ = writeln!(err, "error: {e}");
            if let palisade_client::Error::Status { body, .. } = e {
                if !body.is_empty() {
                    let _ = writeln!(err, "  body: {}", cut(body, 300));
                }
            }
        }
    }
}
