//! The ingest pipeline: sources → blocks of lines → decoded events →
//! aggregated features, in parallel with rayon.
//!
//! A reader thread cuts every input into blocks at line boundaries, one
//! batch ahead; a batch of blocks, possibly from several files, is decoded in
//! parallel into [`FactBatch`]es, which are folded into the aggregation state
//! (sharded by entity, in parallel) while the next batch is decoded. Every
//! shard sees its events in input order, so the output does not depend on
//! thread timing. Memory holds three batches of blocks (being read, being
//! decoded, being folded) plus the aggregation state, whatever the input
//! size.

use std::io::Read;
use std::sync::Arc;

use rayon::prelude::*;

use crate::aggregate::enrich::Allowlist;
use crate::aggregate::{Aggregator, FactBatch, FeatureTable, ValidFeatureConfig};
use crate::connectors::csv::{ColumnMap, CsvLayout};
use crate::connectors::json::FieldMap;
use crate::connectors::syslog::{self, YearResolver};
use crate::event::{Event, FileId, Micros, Skip, SkipReason};
use crate::ingest::attempts::{AttemptCounter, AttemptLineFacts};
use crate::ingest::input::{self, Block, BlockReader, InputFormat, Source};
use crate::ingest::stats::LineStats;
use crate::output::compact::{CompactBatch, CompactLog, KeepEvents};
use crate::output::{EventBatch, OutputError};

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The `on_batch` callback of [`run`] failed writing events.
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// Why a file cannot be read; recorded in its [`FileReport`].
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("CSV input has no header row")]
    NoCsvHeader,
    #[error("line {line}: {source}")]
    CsvHeader {
        line: u64,
        source: Box<crate::connectors::json::ConnectorError>,
    },
}

/// Default block size: large enough to amortise scheduling, small enough
/// that a batch of blocks stays a few tens of MiB.
pub const DEFAULT_BLOCK_SIZE: usize = 4 << 20;

/// Default [`RunConfig::table_rows`].
pub const DEFAULT_TABLE_ROWS: usize = 1 << 16;

/// How to read and aggregate a run's inputs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Force one input format; `None` detects it per file.
    pub format: Option<InputFormat>,
    /// Year of the first RFC 3164 line of each file; `None` infers it from
    /// the file's modification time (stdin: today).
    pub year: Option<i32>,
    pub field_map: FieldMap,
    pub column_map: ColumnMap,
    pub features: Arc<ValidFeatureConfig>,
    /// Addresses and users whose events are left out of the features.
    pub exclude: Allowlist,
    pub block_size: usize,
    /// Keep decoded events for `--events-out`.
    pub collect_events: bool,
    /// Keep these events in compact form ([`RunResult::compact`]) for rules.
    pub collect_compact: Option<KeepEvents>,
    /// Keep evidence lines per entity-window ([`Aggregator::keep_evidence`]).
    pub window_evidence: bool,
    /// Rows per table handed to the row sink as windows close: a table
    /// holds the windows of the earliest starts that together reach this
    /// many rows (a window start's rows are never split); what a batch
    /// closes beyond the last such table goes as one smaller table.
    pub table_rows: usize,
}

impl RunConfig {
    /// Formats detected per file, default field and column maps, no
    /// exclusions, features only (no events kept).
    pub fn new(features: ValidFeatureConfig) -> RunConfig {
        RunConfig {
            format: None,
            year: None,
            field_map: FieldMap::default(),
            column_map: ColumnMap::default(),
            features: Arc::new(features),
            exclude: Allowlist::default(),
            block_size: DEFAULT_BLOCK_SIZE,
            collect_events: false,
            collect_compact: None,
            window_evidence: false,
            table_rows: DEFAULT_TABLE_ROWS,
        }
    }
}

/// How reading one input went.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub name: String,
    pub format: Option<InputFormat>,
    pub bytes: u64,
    /// Why the file could not be read (fully); lines read before it count.
    pub error: Option<String>,
    /// (first line, byte offset in the decoded input) of each block read,
    /// ascending: where to start re-reading a line.
    pub block_starts: Vec<(u64, u64)>,
}

/// Everything a run produced.
pub struct RunResult {
    pub aggregator: Aggregator,
    /// The events `collect_compact` selects, in input order, when it was set.
    pub compact: Option<CompactLog>,
    pub stats: LineStats,
    pub files: Vec<FileReport>,
}

impl RunResult {
    pub fn file_names(&self) -> Vec<String> {
        self.files.iter().map(|f| f.name.clone()).collect()
    }

    pub fn errors(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files
            .iter()
            .filter_map(|f| f.error.as_deref().map(|e| (f.name.as_str(), e)))
    }
}

/// Per-file decoding context.
struct FileContext {
    format: InputFormat,
    years: YearResolver,
    csv: Option<CsvLayout>,
    /// The CSV header line, which is not data.
    header_line: Option<u64>,
}

/// What decoding one block produced.
struct BlockOutput {
    file: FileId,
    facts: FactBatch,
    stats: LineStats,
    events: Option<EventBatch>,
    compact: Option<CompactBatch>,
    /// Lines whose attempt count depends on other lines, in block order.
    attempts: Vec<PendingAttempt>,
}

/// A line counted provisionally as alone, with where its count was written.
struct PendingAttempt {
    facts: AttemptLineFacts,
    /// Index in the block's [`FactBatch`].
    fact: u32,
    /// Index in the block's compact batch, when it kept the event.
    compact: Option<u32>,
    /// Index in the block's event batch, when events are collected.
    event: Option<u32>,
}

impl BlockOutput {
    /// Rewrites the provisional counts with the counter's, in block order.
    fn count_attempts(&mut self, counter: &mut AttemptCounter) {
        for p in &self.attempts {
            let n = counter.count(&p.facts);
            if n == p.facts.repeat {
                continue;
            }
            // Only failures are paired (`AttemptLineFacts::to_pair`).
            self.facts.set_failed_attempts(p.fact as usize, n);
            if let (Some(i), Some(c)) = (p.compact, self.compact.as_mut()) {
                c.events[i as usize].attempts = n;
            }
            if let (Some(i), Some(e)) = (p.event, self.events.as_mut()) {
                e.attempts[i as usize] = n;
            }
        }
    }
}

fn decode<'a>(line: &'a str, no: u64, file: FileId, ctx: &FileContext, cfg: &RunConfig) -> Result<Event<'a>, Skip<'a>> {
    match ctx.format {
        InputFormat::Syslog => syslog::decode_line(line, file, no, &ctx.years),
        InputFormat::Json => crate::connectors::json::decode_json_line(line, file, no, &cfg.field_map),
        InputFormat::Csv => match &ctx.csv {
            Some(layout) => crate::connectors::csv::decode_csv_line(line, file, no, layout),
            None => Err(Skip::new(SkipReason::Malformed)),
        },
        InputFormat::Journald => crate::connectors::journald::decode_journald_line(line, file, no),
        InputFormat::Audit => crate::connectors::audit::decode_audit_line(line, file, no),
    }
}

fn process_block(block: &Block, ctx: &FileContext, cfg: &RunConfig, shards: usize) -> BlockOutput {
    // Syslog auth lines average about 100 bytes.
    let mut facts = FactBatch::new(cfg.features.clone(), shards, block.data.len() / 96);
    let mut stats = LineStats::default();
    let mut events = cfg.collect_events.then(EventBatch::default);
    let mut compact = cfg.collect_compact.clone().map(CompactBatch::keeping);
    let mut attempts = Vec::new();
    // One validation for the whole block (the usual case) costs less than
    // one per line; lines are cut from it at their byte offsets (a line
    // starts after and ends before an ASCII byte, so on char boundaries).
    let text = std::str::from_utf8(&block.data).ok();
    let base = block.data.as_ptr() as usize;
    for (no, bytes) in block.lines() {
        if ctx.header_line == Some(no) {
            continue;
        }
        stats.lines += 1;
        let lossy;
        let valid = match text {
            Some(text) => {
                let start = bytes.as_ptr() as usize - base;
                Ok(&text[start..start + bytes.len()])
            }
            None => std::str::from_utf8(bytes),
        };
        let line = match valid {
            Ok(s) => s,
            Err(_) => {
                stats.invalid_utf8 += 1;
                stats.record_skip(&Skip::new(SkipReason::InvalidUtf8), block.file, no);
                lossy = String::from_utf8_lossy(bytes).into_owned();
                &lossy
            }
        };
        if line.bytes().all(|b| b.is_ascii_whitespace()) {
            stats.record_skip(&Skip::new(SkipReason::Empty), block.file, no);
            continue;
        }
        match decode(line, no, block.file, ctx, cfg) {
            Ok(ev) => {
                if !cfg.exclude.is_empty() && cfg.exclude.allows(ev.source_ip, ev.user.as_deref()) {
                    stats.excluded += 1;
                    continue;
                }
                stats.events += 1;
                let pending = AttemptLineFacts::to_pair(&ev);
                let fact = facts.len() as u32;
                facts.push(&ev);
                let mut event = None;
                if let Some(batch) = &mut events {
                    event = Some(batch.len() as u32);
                    batch.push(&ev);
                }
                let mut kept = None;
                if let Some(batch) = &mut compact {
                    let before = batch.events.len();
                    batch.push(&ev);
                    kept = (batch.events.len() > before).then_some(before as u32);
                }
                if let Some(facts) = pending {
                    attempts.push(PendingAttempt {
                        facts,
                        fact,
                        compact: kept,
                        event,
                    });
                }
            }
            Err(skip) => stats.record_skip(&skip, block.file, no),
        }
    }
    BlockOutput {
        file: block.file,
        facts,
        stats,
        events,
        compact,
        attempts,
    }
}

/// What the reader thread hands over, in input order.
enum ReadBlock {
    Block(Block),
    /// The input could not be opened.
    OpenFailed(FileId, std::io::Error),
    /// Reading stopped on an error after the input's blocks so far.
    ReadFailed(FileId, std::io::Error),
}

/// Reads the sources into blocks, in `order`, until the receiver hangs up.
fn read_blocks(sources: &[Source], order: &[usize], block_size: usize, tx: &std::sync::mpsc::SyncSender<ReadBlock>) {
    for &file in order {
        let source = &sources[file];
        let file = file as FileId;
        let reader: Box<dyn Read + Send> = match input::open(source) {
            Ok(r) => r,
            Err(e) => {
                if tx.send(ReadBlock::OpenFailed(file, e)).is_err() {
                    return;
                }
                continue;
            }
        };
        let mut blocks = BlockReader::new(reader, file, block_size);
        loop {
            let read = match blocks.next_block() {
                Ok(Some(block)) => ReadBlock::Block(block),
                Ok(None) => break,
                Err(e) => ReadBlock::ReadFailed(file, e),
            };
            let failed = matches!(read, ReadBlock::ReadFailed(..));
            if tx.send(read).is_err() {
                return;
            }
            if failed {
                break;
            }
        }
    }
}

fn today() -> (i32, u32, u32) {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64 / 86_400)
        .unwrap_or(0);
    crate::time::civil_from_days(days)
}

fn year_resolver(source: &Source, first_block: &[u8], year: Option<i32>) -> YearResolver {
    match year {
        Some(y) => {
            let head = String::from_utf8_lossy(&first_block[..first_block.len().min(64 * 1024)]);
            YearResolver::starting(y, syslog::first_month(&head).unwrap_or(1))
        }
        None => {
            let (y, m, d) = source
                .modified()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| crate::time::civil_from_days(d.as_secs() as i64 / 86_400))
                .unwrap_or_else(today);
            YearResolver::ending(y, m, d)
        }
    }
}

fn file_context(source: &Source, first: &Block, cfg: &RunConfig) -> Result<FileContext, FileError> {
    let name = source.display();
    let format = cfg.format.unwrap_or_else(|| {
        input::detect_format(&name, &first.data[..first.data.len().min(64 * 1024)], &cfg.column_map)
    });
    let years = year_resolver(source, &first.data, cfg.year);
    let (csv, header_line) = if format == InputFormat::Csv {
        let (no, header) = first
            .lines()
            .find(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
            .ok_or(FileError::NoCsvHeader)?;
        let header = String::from_utf8_lossy(header);
        let layout = CsvLayout::from_header(&header, &cfg.column_map).map_err(|e| FileError::CsvHeader {
            line: no,
            source: Box::new(e),
        })?;
        (Some(layout), Some(no))
    } else {
        (None, None)
    };
    Ok(FileContext {
        format,
        years,
        csv,
        header_line,
    })
}

/// Reads every source, decoding and aggregating in parallel. `on_batch` sees
/// the decoded events of each batch in input order (only when
/// `cfg.collect_events`); `progress` is told the bytes consumed. The rows
/// are made afterwards from [`RunResult::aggregator`].
pub fn run(
    sources: &[Source],
    cfg: &RunConfig,
    on_batch: impl FnMut(&EventBatch) -> Result<(), OutputError> + Send,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunResult, PipelineError> {
    run_inner(sources, cfg, None, on_batch, progress)
}

/// An `--allowed-lateness` too long to count in microseconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--allowed-lateness {0} s: too long")]
pub struct LatenessTooLong(pub u64);

/// The allowed lateness of [`run_closing`], from seconds.
pub fn lateness_micros(secs: u64) -> Result<Micros, LatenessTooLong> {
    i64::try_from(secs)
        .ok()
        .and_then(|s| s.checked_mul(crate::time::MICROS_PER_SECOND))
        .ok_or(LatenessTooLong(secs))
}

/// Where windows closed as time passes go ([`run_closing`]).
pub type RowSink<'s> = &'s mut (dyn FnMut(FeatureTable) -> Result<(), OutputError> + Send);

/// Where the kept events of a closing run go ([`run_closing_with_events`]):
/// each merged batch's, with the time before which no event is expected
/// any more (the allowed lateness behind the latest).
pub type EventSink<'s> = &'s mut (dyn FnMut(Vec<CompactBatch>, Micros) -> Result<(), OutputError> + Send);

/// A merged batch's kept events and the watermark, for the event sink's
/// thread.
type ClosedEvents = (Vec<CompactBatch>, Micros);

/// The lateness, where closed rows and kept events go, and the queue of
/// both.
type ClosingSinks = (
    Micros,
    std::sync::mpsc::Sender<FeatureTable>,
    Option<std::sync::mpsc::Sender<ClosedEvents>>,
    Arc<SinkQueue>,
);

/// Like [`run`], but windows are closed as time passes and their rows
/// handed to `on_rows` at once (sorted by window start, kind and entity name hash),
/// so memory holds only the windows still open. Files are read in the order
/// of their first event; a window closes once the file being read is
/// `lateness` past its end and no file still to read starts before that.
/// Events of a window already closed are counted
/// ([`Aggregator::late_events`]) and left out of the features.
pub fn run_closing(
    sources: &[Source],
    cfg: &RunConfig,
    lateness: Micros,
    on_rows: RowSink<'_>,
    on_batch: impl FnMut(&EventBatch) -> Result<(), OutputError> + Send,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunResult, PipelineError> {
    run_inner(sources, cfg, Some((lateness, on_rows, None)), on_batch, progress)
}

/// [`run_closing`], with the kept events (`cfg.collect_compact`) handed to
/// `on_events`, on a thread of its own beside the row sink's, instead of
/// gathered in [`RunResult::compact`].
pub fn run_closing_with_events(
    sources: &[Source],
    cfg: &RunConfig,
    lateness: Micros,
    on_rows: RowSink<'_>,
    on_events: EventSink<'_>,
    on_batch: impl FnMut(&EventBatch) -> Result<(), OutputError> + Send,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunResult, PipelineError> {
    run_inner(
        sources,
        cfg,
        Some((lateness, on_rows, Some(on_events))),
        on_batch,
        progress,
    )
}

/// How windows close as time passes while a run merges its batches.
struct Closer {
    lateness: Micros,
    /// Latest event time merged, per file.
    file_max: Vec<Micros>,
    /// Per file, the earliest first event of the files read after it
    /// (`Micros::MIN` when one of them is not known).
    later_first: Vec<Micros>,
    /// The file of the latest merged block with events.
    current: Option<usize>,
    /// Where closed rows go: the row sink's thread.
    rows: std::sync::mpsc::Sender<FeatureTable>,
    /// Where kept events go, when they do: the event sink's thread.
    events: Option<std::sync::mpsc::Sender<ClosedEvents>>,
    queue: Arc<SinkQueue>,
    /// Rows closed since freed heap pages were last handed back.
    untrimmed: usize,
    /// [`RunConfig::table_rows`].
    table_rows: usize,
}

/// Tables and batches of events sent to the sinks' threads and not yet
/// taken; whether a sink failed.
#[derive(Default)]
struct SinkQueue {
    queued: std::sync::Mutex<usize>,
    taken: std::sync::Condvar,
    failed: std::sync::atomic::AtomicBool,
}

/// Tables and batches of events that may wait for the sinks before
/// reading pauses.
const MAX_QUEUED: usize = 4;

impl SinkQueue {
    /// Sends `item` down `tx`, counted until its sink takes it.
    fn send<T>(&self, tx: &std::sync::mpsc::Sender<T>, item: T) {
        *self.queued.lock().expect("sink queue lock") += 1;
        if tx.send(item).is_err() {
            // The sink's thread is gone: it failed, and says why.
            self.taken();
        }
    }

    fn taken(&self) {
        *self.queued.lock().expect("sink queue lock") -= 1;
        self.taken.notify_all();
    }

    /// Marks the sink failed and wakes the reading thread.
    fn fail(&self) {
        self.failed.store(true, std::sync::atomic::Ordering::Relaxed);
        // Under the lock, so a reader about to wait sees the flag first.
        let _queued = self.queued.lock();
        self.taken.notify_all();
    }

    /// Waits until at most [`MAX_QUEUED`] wait for the sink (or it
    /// failed). Called by the reading thread, never by a pool thread, so
    /// the sink's own parallel work is never held up.
    fn wait_for_room(&self) {
        let mut queued = self.queued.lock().expect("sink queue lock");
        while *queued > MAX_QUEUED && !self.failed() {
            queued = self.taken.wait(queued).expect("sink queue lock");
        }
    }

    fn failed(&self) -> bool {
        self.failed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Rows closed between two hand-backs of freed heap pages to the OS.
const TRIM_EVERY_ROWS: usize = 1 << 19;

impl Closer {
    /// Closes the windows that end at or before `until` and sends their
    /// rows in tables of about `table_rows` (a window start's rows are
    /// never split): a batch of blocks can span many hours of a busy log,
    /// and a table of all their rows was the largest passing allocation
    /// (the sink queue holds up to four). Rows go out in the same order, as
    /// tables are sorted by window start first.
    fn close(&mut self, aggregator: &mut Aggregator, until: Micros) {
        loop {
            let step = aggregator.close_step(until, self.table_rows);
            let rows = aggregator.close_until(step);
            if !rows.is_empty() {
                self.send(rows);
            }
            if step >= until {
                return;
            }
        }
    }

    fn send(&mut self, rows: FeatureTable) {
        // The closed windows' state is freed in the heap's midst, where
        // glibc keeps it: handed back now and then, RSS follows what is open.
        self.untrimmed += rows.len();
        if self.untrimmed >= TRIM_EVERY_ROWS {
            self.untrimmed = 0;
            crate::mem::release::release_free_memory();
        }
        self.queue.send(&self.rows, rows);
    }

    /// Sends a batch's events to the event sink, when there is one.
    fn send_events(&self, events: ClosedEvents) {
        if let Some(tx) = &self.events {
            self.queue.send(tx, events);
        }
    }

    /// Closes what the merged blocks allow; returns the time windows are
    /// closed until.
    fn advance(&mut self, aggregator: &mut Aggregator, outputs: &[(u64, BlockOutput)]) -> Micros {
        for (_, out) in outputs {
            if let Some(t) = out.facts.max_time() {
                let file = out.file as usize;
                self.current = Some(file);
                self.file_max[file] = self.file_max[file].max(t);
            }
        }
        let Some(file) = self.current else {
            return Micros::MIN;
        };
        let until = self.file_max[file]
            .min(self.later_first[file])
            .saturating_sub(self.lateness);
        self.close(aggregator, until);
        until
    }
}

/// The time of the first event in the head of each file (`None` for
/// standard input, a file that cannot be read, or one whose head has no
/// event), and the order to read the files in: by that time, unknown first.
fn read_order(sources: &[Source], cfg: &RunConfig) -> (Vec<Option<Micros>>, Vec<usize>) {
    // Enough lines to get past a header or a run of non-auth lines.
    const HEAD: usize = 1 << 20;
    let first: Vec<Option<Micros>> = sources
        .iter()
        .enumerate()
        .map(|(file, source)| {
            if matches!(source, Source::Stdin) {
                return None;
            }
            let reader = input::open(source).ok()?;
            let block = BlockReader::new(reader, file as FileId, HEAD).next_block().ok()??;
            let ctx = file_context(source, &block, cfg).ok()?;
            let out = process_block(&block, &ctx, cfg, 1);
            (!out.facts.is_empty()).then(|| out.facts.min_time())
        })
        .collect();
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&f| first[f].unwrap_or(Micros::MIN));
    (first, order)
}

fn run_inner(
    sources: &[Source],
    cfg: &RunConfig,
    closing: Option<(Micros, RowSink<'_>, Option<EventSink<'_>>)>,
    on_batch: impl FnMut(&EventBatch) -> Result<(), OutputError> + Send,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunResult, PipelineError> {
    let Some((lateness, on_rows, on_events)) = closing else {
        return read_and_merge(sources, cfg, None, on_batch, progress);
    };
    // Closed rows go to the row sink on a thread of its own, so that
    // writing or scoring them does not hold up the merge, which all
    // decoding waits on; kept events to the event sink on another.
    std::thread::scope(|scope| {
        let queue = Arc::new(SinkQueue::default());
        let (tx, rx) = std::sync::mpsc::channel::<FeatureTable>();
        let sink = spawn_sink(scope, &queue, rx, on_rows);
        let (events_tx, event_sink) = match on_events {
            Some(on_events) => {
                let (tx, rx) = std::sync::mpsc::channel::<ClosedEvents>();
                let sink = spawn_sink(scope, &queue, rx, move |(batches, until)| on_events(batches, until));
                (Some(tx), Some(sink))
            }
            None => (None, None),
        };
        let read = read_and_merge(sources, cfg, Some((lateness, tx, events_tx, queue)), on_batch, progress);
        // A sink's failure comes first: reading stops early because of it.
        for sink in std::iter::once(sink).chain(event_sink) {
            match sink.join() {
                Ok(sunk) => sunk?,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        read
    })
}

/// A thread that hands what `rx` brings to `each` until the channel
/// closes, telling `queue` as each is taken; after a failure it takes the
/// rest without looking, and a panic releases the reading thread first.
fn spawn_sink<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    queue: &Arc<SinkQueue>,
    rx: std::sync::mpsc::Receiver<T>,
    mut each: impl FnMut(T) -> Result<(), OutputError> + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, Result<(), OutputError>> {
    let queue = Arc::clone(queue);
    scope.spawn(move || {
        // A panicking sink releases the reading thread, which would
        // otherwise wait for room forever; the panic is resumed by the
        // caller.
        struct OnPanic<'q>(&'q SinkQueue);
        impl Drop for OnPanic<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.fail();
                }
            }
        }
        let _on_panic = OnPanic(&queue);
        let mut result = Ok(());
        for item in rx {
            if result.is_ok() {
                result = each(item);
                if result.is_err() {
                    queue.fail();
                }
            }
            queue.taken();
        }
        result
    })
}

/// The reading, decoding and merging of [`run_inner`]; closed rows are
/// sent down `closing`'s channel.
fn read_and_merge(
    sources: &[Source],
    cfg: &RunConfig,
    closing: Option<ClosingSinks>,
    on_batch: impl FnMut(&EventBatch) -> Result<(), OutputError> + Send,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunResult, PipelineError> {
    let batch_blocks = rayon::current_num_threads().max(1) * 2;
    // More shards than threads, so that shards balance across threads.
    let mut aggregator = Aggregator::with_shards(cfg.features.clone(), rayon::current_num_threads().max(1) * 4);
    if cfg.window_evidence {
        aggregator.keep_evidence();
    }
    let (order, closer) = match closing {
        Some((lateness, rows, events, queue)) => {
            aggregator.close_as_time_passes();
            let (first, order) = read_order(sources, cfg);
            let mut later_first = vec![Micros::MAX; sources.len()];
            let mut earliest = Micros::MAX;
            for &f in order.iter().rev() {
                later_first[f] = earliest;
                earliest = earliest.min(first[f].unwrap_or(Micros::MIN));
            }
            let closer = Closer {
                lateness,
                file_max: vec![Micros::MIN; sources.len()],
                later_first,
                current: None,
                rows,
                events,
                queue,
                untrimmed: 0,
                table_rows: cfg.table_rows,
            };
            (order, Some(closer))
        }
        None => ((0..sources.len()).collect(), None),
    };
    let sink_queue = closer.as_ref().map(|c| Arc::clone(&c.queue));
    let shards = aggregator.shards();
    let stats = LineStats::default();
    let mut pending: Vec<Block> = Vec::new();
    let compact = cfg
        .collect_compact
        .as_ref()
        .filter(|_| closer.as_ref().is_none_or(|c| c.events.is_none()))
        .map(|_| CompactLog::default());

    // Merging a batch's results runs while the next batch is decoded, so
    // both cores stay busy; merge order is still input order.
    struct Merger<'f, F> {
        aggregator: Aggregator,
        attempts: AttemptCounter,
        stats: LineStats,
        compact: Option<CompactLog>,
        on_batch: F,
        progress: &'f (dyn Fn(u64) + Sync),
        closer: Option<Closer>,
    }
    impl<F: FnMut(&EventBatch) -> Result<(), OutputError>> Merger<'_, F> {
        fn merge(&mut self, mut outputs: Vec<(u64, BlockOutput)>) -> Result<(), OutputError> {
            for (_, out) in &mut outputs {
                out.count_attempts(&mut self.attempts);
            }
            let batches: Vec<&FactBatch> = outputs.iter().map(|(_, out)| &out.facts).collect();
            self.aggregator.add_batches(&batches);
            let until = match &mut self.closer {
                Some(closer) => Some(closer.advance(&mut self.aggregator, &outputs)),
                None => None,
            };
            let mut sent: Vec<CompactBatch> = Vec::new();
            let send_events = self.closer.as_ref().is_some_and(|c| c.events.is_some());
            for (bytes, out) in outputs {
                (self.progress)(bytes);
                self.stats.merge(out.stats);
                if let Some(events) = out.events {
                    (self.on_batch)(&events)?;
                }
                match (self.compact.as_mut(), out.compact) {
                    (_, Some(batch)) if send_events => sent.push(batch),
                    (Some(log), Some(batch)) => log.append(batch),
                    _ => {}
                }
            }
            if let (Some(closer), Some(until)) = (&self.closer, until) {
                closer.send_events((sent, until));
            }
            Ok(())
        }
    }
    let mut merger = Merger {
        aggregator,
        attempts: AttemptCounter::new(),
        stats,
        compact,
        on_batch,
        progress,
        closer,
    };
    let mut decoded: Vec<(u64, BlockOutput)> = Vec::new();
    let flush = |pending: &mut Vec<Block>,
                 contexts: &[Option<FileContext>],
                 decoded: &mut Vec<(u64, BlockOutput)>,
                 merger: &mut Merger<'_, _>|
     -> Result<(), OutputError> {
        let previous = std::mem::take(decoded);
        let (outputs, merged) = rayon::join(
            || {
                pending
                    .par_iter()
                    .map(|b| {
                        let ctx = contexts[b.file as usize].as_ref().expect("context set");
                        (b.data.len() as u64, process_block(b, ctx, cfg, shards))
                    })
                    .collect::<Vec<_>>()
            },
            || merger.merge(previous),
        );
        pending.clear();
        *decoded = outputs;
        merged
    };

    // A reader thread opens the inputs and cuts them into blocks (reading
    // and gunzipping) while the pool decodes and folds the previous batch.
    let files_read = std::thread::scope(|scope| -> Result<Vec<FileReport>, OutputError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<ReadBlock>(batch_blocks);
        let order = &order;
        scope.spawn(move || read_blocks(sources, order, cfg.block_size, &tx));
        let mut files: Vec<FileReport> = sources
            .iter()
            .map(|source| FileReport {
                name: source.display(),
                format: None,
                bytes: 0,
                error: None,
                block_starts: Vec::new(),
            })
            .collect();
        let mut contexts: Vec<Option<FileContext>> = sources.iter().map(|_| None).collect();
        for read in rx {
            let block = match read {
                ReadBlock::Block(block) => block,
                ReadBlock::OpenFailed(file, e) => {
                    files[file as usize].error = Some(e.to_string());
                    continue;
                }
                ReadBlock::ReadFailed(file, e) => {
                    let report = &mut files[file as usize];
                    if report.error.is_none() {
                        report.error = Some(format!("read error after {} bytes: {e}", report.bytes));
                    }
                    continue;
                }
            };
            let file = block.file as usize;
            if files[file].error.is_some() {
                continue;
            }
            if contexts[file].is_none() {
                match file_context(&sources[file], &block, cfg) {
                    Ok(ctx) => {
                        files[file].format = Some(ctx.format);
                        contexts[file] = Some(ctx);
                    }
                    Err(e) => {
                        files[file].error = Some(e.to_string());
                        continue;
                    }
                }
            }
            let report = &mut files[file];
            report.block_starts.push((block.first_line, report.bytes));
            report.bytes += block.data.len() as u64;
            pending.push(block);
            if pending.len() >= batch_blocks {
                if let Some(queue) = &sink_queue {
                    queue.wait_for_room();
                    if queue.failed() {
                        break;
                    }
                }
                flush(&mut pending, &contexts, &mut decoded, &mut merger)?;
            }
        }
        flush(&mut pending, &contexts, &mut decoded, &mut merger)?;
        Ok(files)
    });
    let files = files_read?;
    merger.merge(decoded)?;
    if let Some(mut closer) = merger.closer.take() {
        closer.close(&mut merger.aggregator, Micros::MAX);
    }
    Ok(RunResult {
        aggregator: merger.aggregator,
        compact: merger.compact,
        stats: merger.stats,
        files,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;

    use super::*;
    use crate::aggregate::FeatureConfig;

    const SSH: &str = "Mar  3 04:05:06 web1 sshd[7]: Failed password for root from 203.0.113.9 port 4711 ssh2";

    fn write_log(path: &Path, lines: usize) {
        std::fs::write(path, format!("{SSH}\n").repeat(lines)).unwrap();
    }

    #[test]
    fn the_reader_thread_reports_each_bad_input_and_keeps_the_rest_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("a.log");
        write_log(&good, 3_000);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..20_000 {
            writeln!(
                enc,
                "Mar  3 04:05:06 web1 sshd[{i}]: Failed password for root from 203.0.113.9 port 4711 ssh2"
            )
            .unwrap();
        }
        let gz = enc.finish().unwrap();
        let cut = dir.path().join("cut.log.gz");
        std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
        // A CSV whose header the column map cannot read: its later blocks
        // are skipped.
        let unmapped = dir.path().join("unmapped.csv");
        std::fs::write(&unmapped, format!("foo,bar\n{}", "1,2\n".repeat(5_000))).unwrap();
        let last = dir.path().join("z.log");
        write_log(&last, 2_000);
        let sources: Vec<Source> = [&good, &dir.path().join("missing.log"), &unmapped, &cut, &last]
            .into_iter()
            .map(|p| Source::File(p.clone()))
            .collect();
        let mut cfg = RunConfig::new(FeatureConfig::default().check().unwrap());
        cfg.year = Some(2026);
        // Small blocks: every file is several blocks and batches.
        cfg.block_size = 4096;
        let result = run(&sources, &cfg, |_| Ok(()), &|_| {}).unwrap();
        let errors: Vec<Option<&str>> = result.files.iter().map(|f| f.error.as_deref()).collect();
        assert_eq!(errors[0], None);
        assert!(errors[1].is_some(), "missing input: {errors:?}");
        assert!(errors[2].is_some_and(|e| e.starts_with("line 1: ")), "{errors:?}");
        assert!(
            errors[3].is_some_and(|e| e.starts_with("read error after ")),
            "{errors:?}"
        );
        assert_eq!(errors[4], None);
        let read_from_cut = result.stats.events - 5_000;
        assert!(
            read_from_cut > 1_000 && read_from_cut < 20_000,
            "{read_from_cut} events from the cut gzip"
        );
        assert_eq!(result.files[4].bytes, std::fs::metadata(&last).unwrap().len());
    }
}
