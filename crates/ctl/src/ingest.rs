//! `incidents ingest FILE.ndjson`: batches of up to 1,000 lines sent with a few requests in
//! flight, a progress bar on a terminal, and progress kept in a state file after every batch
//! so that an interrupted run resumes where it stopped (batches the server had already taken
//! are upserts, so sending one again changes nothing). Ends with a summary of rejected items
//! and their reasons.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::stream::{FuturesOrdered, StreamExt};
use palisade_client::types::incidents::{IngestBatchResult, IngestOutcome};
use palisade_client::Client;
use serde::{Deserialize, Serialize};

use crate::cli::IngestArgs;
use crate::output::{cut, print_table, Output};
use crate::{usage, CmdResult, Failure};

/// What the state file keeps.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub workspace_id: String,
    pub source: String,
    /// Lines of the file already done, and the byte offset after them.
    pub lines_done: u64,
    pub offset: u64,
    pub sent: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: Vec<Rejected>,
    pub complete: bool,
}

/// An item the server (or the file's parser) refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    /// 1-based line of the file.
    pub line: u64,
    pub id: Option<String>,
    pub reasons: Vec<String>,
}

/// One batch read from the file.
struct Batch {
    /// Line numbers of the items, in order.
    lines: Vec<u64>,
    items: Vec<String>,
    /// Lines read (including blank and unparsable ones) and the offset after them.
    lines_end: u64,
    offset_end: u64,
    local_rejects: Vec<Rejected>,
}

pub async fn run(client: &Client, args: IngestArgs, out: &Output) -> CmdResult {
    if !(1..=1000).contains(&args.batch_size) {
        return usage("--batch-size must be between 1 and 1000");
    }
    let source = args.source.clone();
    let state_path = args.state.clone().unwrap_or_else(|| {
        let mut p = args.file.clone().into_os_string();
        p.push(".progress.json");
        PathBuf::from(p)
    });
    let file = std::fs::File::open(&args.file)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.file.display())))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut progress = match (args.restart, load(&state_path)?) {
        (false, Some(p)) => {
            if p.workspace_id != args.workspace.to_string()
                || !p.source.eq_ignore_ascii_case(&source)
            {
                return usage(format!(
                    "{} belongs to another workspace or source; pass --restart or --state",
                    state_path.display()
                ));
            }
            if p.offset > total {
                return usage(format!(
                    "{} is shorter than the saved progress; pass --restart",
                    args.file.display()
                ));
            }
            if p.complete {
                out.note(format!(
                    "{} was ingested completely already ({}); pass --restart to send it again",
                    args.file.display(),
                    state_path.display()
                ));
                return summary(&p, out, 0.0);
            }
            if p.lines_done > 0 {
                eprintln!(
                    "resuming at line {} ({})",
                    p.lines_done + 1,
                    state_path.display()
                );
            }
            p
        }
        _ => Progress {
            workspace_id: args.workspace.to_string(),
            source: source.clone(),
            ..Progress::default()
        },
    };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader
        .seek(SeekFrom::Start(progress.offset))
        .map_err(|e| Failure::Runtime(format!("{}: {e}", args.file.display())))?;
    let bar = Bar::new(!args.quiet && std::io::stderr().is_terminal(), total);
    let started = Instant::now();
    let sent_before = progress.sent;
    let (mut line_no, mut offset) = (progress.lines_done, progress.offset);
    let mut in_flight = FuturesOrdered::new();
    let mut eof = false;
    let ws = args.workspace;
    loop {
        while !eof && in_flight.len() < args.concurrency.max(1) {
            let read = read_batch(&mut reader, args.batch_size, &mut line_no, &mut offset)
                .map_err(|e| Failure::Runtime(format!("{}: {e}", args.file.display())))?;
            let Some(batch) = read else {
                eof = true;
                break;
            };
            let client = client.clone();
            let source = source.clone();
            in_flight.push_back(async move {
                let result = if batch.items.is_empty() {
                    Ok(None)
                } else {
                    client
                        .incidents()
                        .ingest_batch_json(
                            ws,
                            source.as_str(),
                            batch.items.iter().map(String::as_str),
                        )
                        .await
                        .map(Some)
                };
                (batch, result)
            });
        }
        let Some((batch, result)) = in_flight.next().await else {
            break;
        };
        match result {
            Ok(answer) => {
                record(&mut progress, &batch, answer.as_ref());
                save(&state_path, &progress)?;
                bar.show(progress.offset, progress.sent - sent_before, started);
            }
            Err(e) => {
                bar.clear();
                save(&state_path, &progress)?;
                eprintln!(
                    "stopped at line {}: progress saved to {}; run the same command again to resume",
                    progress.lines_done + 1,
                    state_path.display()
                );
                return Err(Failure::Api(e));
            }
        }
    }
    progress.complete = true;
    save(&state_path, &progress)?;
    bar.clear();
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        (progress.sent - sent_before) as f64 / secs
    } else {
        0.0
    };
    summary(&progress, out, rate)
}

/// Reads lines until `size` items (`None` when the file has no more lines).
fn read_batch(
    reader: &mut impl BufRead,
    size: usize,
    line_no: &mut u64,
    offset: &mut u64,
) -> std::io::Result<Option<Batch>> {
    let mut batch = Batch {
        lines: Vec::with_capacity(size),
        items: Vec::with_capacity(size),
        lines_end: 0,
        offset_end: 0,
        local_rejects: Vec::new(),
    };
    let mut buf = String::new();
    let mut any = false;
    while batch.items.len() < size {
        buf.clear();
        let n = reader.read_line(&mut buf)?;
        if n == 0 {
            break;
        }
        any = true;
        *line_no += 1;
        *offset += n as u64;
        let text = buf.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<&serde_json::value::RawValue>(text) {
            Ok(raw) if raw.get().starts_with('{') => {
                batch.lines.push(*line_no);
                batch.items.push(raw.get().to_string());
            }
            Ok(_) => batch.local_rejects.push(Rejected {
                line: *line_no,
                id: None,
                reasons: vec!["the line is not a JSON object".into()],
            }),
            Err(e) => batch.local_rejects.push(Rejected {
                line: *line_no,
                id: None,
                reasons: vec![format!("the line is not JSON: {e}")],
            }),
        }
    }
    batch.lines_end = *line_no;
    batch.offset_end = *offset;
    Ok(any.then_some(batch))
}

fn record(p: &mut Progress, batch: &Batch, answer: Option<&IngestBatchResult>) {
    p.rejected.extend(batch.local_rejects.iter().cloned());
    if let Some(a) = answer {
        p.sent += batch.items.len() as u64;
        p.created += a.created as u64;
        p.updated += a.updated as u64;
        p.unchanged += a.unchanged as u64;
        for item in &a.items {
            if item.result != IngestOutcome::Rejected {
                continue;
            }
            let reasons = item
                .errors
                .iter()
                .flat_map(BTreeMap::iter)
                .flat_map(|(field, msgs)| {
                    msgs.iter().map(move |m| {
                        if field.is_empty() {
                            m.clone()
                        } else {
                            format!("{field}: {m}")
                        }
                    })
                })
                .collect();
            p.rejected.push(Rejected {
                line: batch.lines.get(item.index).copied().unwrap_or(0),
                id: item.id.clone(),
                reasons,
            });
        }
    }
    p.lines_done = batch.lines_end;
    p.offset = batch.offset_end;
}

fn summary(p: &Progress, out: &Output, rate: f64) -> CmdResult {
    if out.json() {
        out.line(&serde_json::json!({
            "lines": p.lines_done, "sent": p.sent, "created": p.created, "updated": p.updated,
            "unchanged": p.unchanged, "rejected": p.rejected.len(), "incidentsPerSecond": rate.round(),
            "rejectedItems": p.rejected,
        }));
        return Ok(());
    }
    println!(
        "{} lines, {} sent: {} created, {} updated, {} unchanged, {} rejected{}",
        p.lines_done,
        p.sent,
        p.created,
        p.updated,
        p.unchanged,
        p.rejected.len(),
        if rate > 0.0 {
            format!(" ({rate:.0} incidents/s)")
        } else {
            String::new()
        }
    );
    if !p.rejected.is_empty() {
        const SHOWN: usize = 50;
        let rows = p
            .rejected
            .iter()
            .take(SHOWN)
            .map(|r| {
                vec![
                    r.line.to_string(),
                    r.id.clone().unwrap_or_else(|| "-".into()),
                    cut(&r.reasons.join("; "), 100),
                ]
            })
            .collect();
        print_table(&["LINE", "ID", "REASON"], rows);
        if p.rejected.len() > SHOWN {
            println!(
                "… and {} more (--output json lists them all)",
                p.rejected.len() - SHOWN
            );
        }
    }
    Ok(())
}

fn load(path: &Path) -> CmdResult<Option<Progress>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Failure::Usage(format!("{}: {e}; pass --restart", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => usage(format!("{}: {e}", path.display())),
    }
}

/// Writes the state to a temporary file and renames it over the old one, so that an
/// interruption leaves either the old or the new state.
fn save(path: &Path, p: &Progress) -> CmdResult {
    let tmp = path.with_extension("tmp");
    let io = |e: std::io::Error| Failure::Runtime(format!("{}: {e}", path.display()));
    let bytes = serde_json::to_vec(p).map_err(|e| Failure::Runtime(e.to_string()))?;
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(&bytes).map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

/// A one-line progress bar on standard error.
struct Bar {
    on: bool,
    total: u64,
}

impl Bar {
    fn new(on: bool, total: u64) -> Bar {
        Bar { on, total }
    }

    fn show(&self, done: u64, sent: u64, since: Instant) {
        if !self.on {
            return;
        }
        const WIDTH: u64 = 30;
        let filled = (done * WIDTH)
            .checked_div(self.total)
            .unwrap_or(WIDTH)
            .min(WIDTH) as usize;
        let rate = sent as f64 / since.elapsed().as_secs_f64().max(0.001);
        let pct = (done * 100).checked_div(self.total).unwrap_or(100);
        eprint!(
            "\r[{}{}] {pct:>3}% {sent} sent, {rate:.0}/s ",
            "#".repeat(filled),
            "-".repeat(WIDTH as usize - filled)
        );
        let _ = std::io::stderr().flush();
    }

    fn clear(&self) {
        if self.on {
            eprint!("\r{}\r", " ".repeat(72));
        }
    }
}
