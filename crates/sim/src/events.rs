//! Reading events as CloudTrail writes them, streaming: a CloudTrail log file
//! (`{"Records":[...]}`, gzipped or not, as delivered to S3), a JSON array of records, JSON lines,
//! or plain text lines, detected per file from its first line ([`Format::Auto`]) or forced.
//! Records are handed out one at a time; a file is never loaded whole.

use std::cell::OnceCell;
use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;
use serde_json::Value;

use crate::jsonscan::skip_value;
use crate::pattern::{Event, Pattern};
use crate::prefilter::{Need, Prefilter, RawKind};
use crate::projection::Projection;

/// One log event: its message as CloudWatch Logs would hold it, JSON when it is, and its time.
#[derive(Debug, Clone)]
pub struct LogEvent {
    /// Filled on first use for records read from a CloudTrail file: JSON patterns never need it.
    message: OnceCell<String>,
    /// The event as JSON, when it is a JSON object.
    pub json: Option<Value>,
    /// Seconds since the epoch (`eventTime` of a CloudTrail record), when known.
    pub time: Option<i64>,
}

impl LogEvent {
    /// A CloudTrail record.
    pub fn from_json(v: Value) -> LogEvent {
        let time = v.get("eventTime").or_else(|| v.get("timestamp")).and_then(Value::as_str).and_then(parse_time);
        LogEvent { message: OnceCell::new(), json: Some(v), time }
    }

    /// A line: JSON when it is a JSON object, text otherwise.
    pub fn from_line(line: &str) -> LogEvent {
        let message = OnceCell::from(line.to_string());
        match serde_json::from_str::<Value>(line) {
            Ok(v @ Value::Object(_)) => LogEvent { message, ..LogEvent::from_json(v) },
            _ => LogEvent { message, json: None, time: None },
        }
    }

    /// The message: the line as read, or the record as one compact JSON text, which is how
    /// CloudTrail sends each record to CloudWatch Logs.
    pub fn message(&self) -> &str {
        self.message.get_or_init(|| self.json.as_ref().map(Value::to_string).unwrap_or_default())
    }

    /// The event as a pattern reads it.
    pub fn as_event(&self) -> crate::pattern::Event<'_> {
        crate::pattern::Event { message: self.message(), json: self.json.as_ref() }
    }

    /// The event as `pattern` needs it (JSON patterns never look at the message text).
    pub fn as_event_for(&self, pattern: &crate::Pattern) -> crate::pattern::Event<'_> {
        match pattern {
            crate::Pattern::Json(_) => crate::pattern::Event { message: "", json: self.json.as_ref() },
            _ => self.as_event(),
        }
    }
}

/// `2025-03-19T18:44:29Z` (optionally with fractional seconds) → epoch seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60 + se)
}

/// Epoch seconds → `2025-03-19T18:44:29Z`.
pub fn format_time(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Why an events file cannot be read, naming the file (and the line or byte).
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // The fields name the file, and where in it: line or byte offset.
pub enum EventsError {
    /// The file cannot be opened or read.
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// Not the CloudTrail JSON it looks like.
    #[error("{file}: not valid CloudTrail JSON: {source} (read it as text lines with `--format text`)")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    /// A line of a JSON-lines file that is not a JSON object.
    #[error("{file}:{line}: not a JSON object ({reason}); `--format json-lines` needs one per line")]
    JsonLine { file: String, line: u64, reason: String },
    /// A CloudTrail file broken at some byte.
    #[error("{file}: not valid CloudTrail JSON at byte {offset}: {message} (read it as text lines with `--format text`)")]
    Malformed { file: String, offset: u64, message: String },
}

/// How an events file is read. `Auto` decides per file from its first bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// A CloudTrail log file or JSON when the file starts like one, text lines otherwise
    /// (each line JSON when it parses as JSON).
    #[default]
    Auto,
    /// CloudTrail log files (`{"Records":[...]}`, concatenated too), JSON arrays of records, or
    /// a stream of JSON objects; a syntax error is an error.
    CloudTrail,
    /// One JSON object per line; any other non-empty line is an error.
    JsonLines,
    /// One message per line, never read as JSON (JSON patterns match none).
    Text,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "auto" => Ok(Format::Auto),
            "cloudtrail" => Ok(Format::CloudTrail),
            "json-lines" | "jsonl" => Ok(Format::JsonLines),
            "text" => Ok(Format::Text),
            other => Err(format!("unknown events format {other:?}: use auto, cloudtrail, json-lines or text")),
        }
    }
}

/// The names a directory's events files end with (each also gzipped): what `aws s3 sync` of a
/// CloudTrail bucket, or an export of CloudWatch Logs, holds.
pub const EVENTS_FILE_ENDINGS: [&str; 5] = [".json", ".jsonl", ".ndjson", ".log", ".txt"];

/// The files `paths` name, in order: a file (or `-`) as given, whatever its name; a directory as
/// every events file under it ([`EVENTS_FILE_ENDINGS`], gzipped or not), recursively, sorted by
/// path. Inside directories, hidden entries are skipped, and so are `CloudTrail-Digest`
/// directories: a digest file is CloudTrail's signature over log files, not events. A
/// directory with no events file is an error, not zero events.
pub fn expand_paths(paths: &[String]) -> Result<Vec<String>, EventsError> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // Symbolic links to directories are not followed (no loops); to files, they are read.
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if name != "CloudTrail-Digest" {
                    walk(&entry.path(), out)?;
                }
            } else {
                let plain = name.strip_suffix(".gz").unwrap_or(&name);
                if EVENTS_FILE_ENDINGS.iter().any(|e| plain.ends_with(e)) {
                    out.push(entry.path());
                }
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for p in paths {
        if p != "-" && std::path::Path::new(p).is_dir() {
            let mut found = Vec::new();
            walk(std::path::Path::new(p), &mut found).map_err(|source| EventsError::Io { file: p.clone(), source })?;
            if found.is_empty() {
                return Err(EventsError::Io {
                    file: p.clone(),
                    source: std::io::Error::other(format!(
                        "a directory with no events file (files ending {}, or the same gzipped)",
                        EVENTS_FILE_ENDINGS.join(", ")
                    )),
                });
            }
            found.sort();
            files.extend(found.into_iter().map(|f| f.display().to_string()));
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// Opens `path` (`-` is standard input), decompressing gzip when the file starts with its magic.
pub fn open(path: &str) -> Result<Box<dyn Read>, EventsError> {
    Ok(match open_source(path)? {
        Source::Stream(r) => r,
        Source::Whole(mut bytes, len) => {
            bytes.truncate(len);
            Box::new(std::io::Cursor::new(bytes))
        }
    })
}

/// What a file's events are read from: a stream, or (a gzip file of one member, as CloudTrail
/// writes each log file) the whole decompressed text at once.
enum Source {
    Stream(Box<dyn Read>),
    /// The text, in its first `.1` bytes (the buffer is reused from file to file).
    Whole(Vec<u8>, usize),
}

thread_local! {
    /// The buffer the last file was inflated into, for the next: reading a directory of log
    /// files neither allocates nor zeroes one per file.
    static SPARE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A gzip file inflated whole is at most this long compressed, and this long inflated; longer
/// ones are streamed, so memory stays bounded whatever the file. (A CloudTrail log file is a
/// few MiB inflated.)
const WHOLE_GZIP_MAX_IN: u64 = 32 << 20;
const WHOLE_GZIP_MAX_OUT: usize = 256 << 20;
/// The largest inflate buffer kept for the next file.
const SPARE_MAX: usize = 64 << 20;

fn open_source(path: &str) -> Result<Source, EventsError> {
    let io = |source| EventsError::Io { file: path.to_string(), source };
    let raw: Box<dyn Read> = if path == "-" { Box::new(std::io::stdin()) } else { Box::new(std::fs::File::open(path).map_err(io)?) };
    let mut r = BufReader::with_capacity(1 << 16, raw);
    let head = r.fill_buf().map_err(io)?;
    if !head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Source::Stream(Box::new(r)));
    }
    // Only a regular file's size is known beforehand (a pipe's says 0).
    let size = if path == "-" { None } else { std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len()) };
    if size.is_none_or(|n| n > WHOLE_GZIP_MAX_IN) {
        return Ok(Source::Stream(Box::new(MultiGzDecoder::new(r))));
    }
    let mut compressed = Vec::with_capacity(size.unwrap_or(0) as usize);
    r.read_to_end(&mut compressed).map_err(io)?;
    Ok(match inflate_whole(&compressed) {
        Some((text, len)) => Source::Whole(text, len),
        // Several members, too long, or damaged: streamed, and a damaged file is reported as
        // the streaming decoder finds it.
        None => Source::Stream(Box::new(MultiGzDecoder::new(std::io::Cursor::new(compressed)))),
    })
}

/// Inflates `gz` at once when it is one gzip member (libdeflate), else None. libdeflate stops
/// after the first member and ignores what follows, so a file that may hold another one is left
/// to the streaming decoder: every member starts with the bytes `1f 8b 08`, and a file where
/// they occur again after its start is treated as several (the few single members whose
/// compressed bytes contain them by chance are only streamed, never misread). The output size
/// comes from the member's trailer (ISIZE) and is checked by libdeflate, as is the CRC.
fn inflate_whole(gz: &[u8]) -> Option<(Vec<u8>, usize)> {
    if gz.len() < 18 || memchr::memmem::find(&gz[1..], &[0x1f, 0x8b, 0x08]).is_some() {
        return None;
    }
    let isize = u32::from_le_bytes(gz[gz.len() - 4..].try_into().expect("4 bytes")) as usize;
    // DEFLATE expands at most 1032 to 1: a trailer claiming more lies, and must not make
    // secmon set aside its size.
    if isize > WHOLE_GZIP_MAX_OUT || isize > gz.len().saturating_mul(1032) {
        return None;
    }
    let mut out = SPARE.with(|spare| std::mem::take(&mut *spare.borrow_mut()));
    if out.len() < isize {
        out.resize(isize, 0);
    }
    match libdeflater::Decompressor::new().gzip_decompress(gz, &mut out[..isize]) {
        Ok(n) if n == isize => Some((out, isize)),
        _ => {
            if out.capacity() <= SPARE_MAX {
                SPARE.with(|spare| *spare.borrow_mut() = out);
            }
            None
        }
    }
}

/// Streams every event of `path` to `f`, detecting the format (see [`for_each_as`]).
pub fn for_each(path: &str, f: &mut dyn FnMut(LogEvent)) -> Result<u64, EventsError> {
    for_each_as(path, Format::Auto, f)
}

/// Streams every event of `path` to `f`, read as `format` says: CloudTrail JSON (top-level
/// arrays of records, `{"Records":[...]}` files streamed record by record, other objects one
/// event each), JSON lines, or text lines. Returns the number of events.
pub fn for_each_as(path: &str, format: Format, f: &mut dyn FnMut(LogEvent)) -> Result<u64, EventsError> {
    let all = Prefilter::default();
    for_each_candidate(path, format, &all, Need::Everything, &mut |_, ev| f(ev))
}

/// Like [`for_each_as`], but hands out only the events `prefilter` admits for `need`, each with
/// its 1-based index in the file; the others are counted, not parsed. Returns the number of
/// events read, skipped ones included.
pub fn for_each_candidate(
    path: &str,
    format: Format,
    prefilter: &Prefilter,
    need: Need,
    f: &mut dyn FnMut(u64, LogEvent),
) -> Result<u64, EventsError> {
    let mut count = 0u64;
    try_scan(|visit| scan(path, format, visit), &mut |raw| {
        count += 1;
        if need == Need::Everything || prefilter.admits(raw.kind, raw.bytes, need, raw.escapes) {
            f(count, raw.event(path, format)?);
        }
        Ok(())
    })?;
    Ok(count)
}

/// Streams every event of `path` to `f`, as [`for_each_as`] reads them, but parses whole only
/// those `wanted` admits (`f` gets `true`): the others are read for their time and the fields a
/// trail selects events by (`eventSource`, `readOnly`) and nothing else (`f` gets `false`), a
/// projection rather than a whole parse. `secmon simulate` admits the events some monitor's
/// prefilter admits (issue 27, item 2). An event the projection cannot read (not JSON, or not
/// as the format expects) is read the plain way, which also reports its error. Returns the
/// number of events.
pub fn for_each_skimmed(
    path: &str,
    format: Format,
    wanted: &dyn Fn(&Raw<'_>) -> bool,
    f: &mut dyn FnMut(LogEvent, bool),
) -> Result<u64, EventsError> {
    let skeleton = Projection::of_fields(&["eventTime", "timestamp", "eventSource", "readOnly"]);
    let mut count = 0u64;
    try_scan(|visit| scan(path, format, visit), &mut |raw| {
        count += 1;
        if wanted(&raw) {
            f(raw.event(path, format)?, true);
            return Ok(());
        }
        let skimmed = match (raw.kind, format) {
            (RawKind::Line, Format::Text) => Some(LogEvent { message: OnceCell::new(), json: None, time: None }),
            _ => skeleton.parse(raw.bytes).ok().filter(Value::is_object).map(LogEvent::from_json),
        };
        match skimmed {
            Some(ev) => f(ev, false),
            None => f(raw.event(path, format)?, true),
        }
        Ok(())
    })?;
    Ok(count)
}

/// Runs `scan` with a visitor that may fail: the first error stops the scan and is returned.
fn try_scan(
    scan: impl FnOnce(&mut dyn FnMut(Raw<'_>) -> bool) -> Result<(), EventsError>,
    visit: &mut dyn FnMut(Raw<'_>) -> Result<(), EventsError>,
) -> Result<(), EventsError> {
    let mut err = None;
    scan(&mut |raw| match visit(raw) {
        Ok(()) => true,
        Err(e) => {
            err = Some(e);
            false
        }
    })?;
    err.map_or(Ok(()), Err)
}

/// How many events of `path` there are, and how many `pattern` matches: the fastest path
/// ([`Counter`]).
pub fn count_matches(path: &str, format: Format, pattern: &Pattern) -> Result<(u64, u64), EventsError> {
    Counter::new(pattern).count(path, format)
}

/// Counts the events a pattern matches, file after file, by the fastest path. Events that
/// cannot match are split but not parsed ([`Prefilter`]); the others are parsed only as far as
/// the pattern reads ([`Projection`]); term patterns on lines never parse JSON. Built once for
/// a pattern, for any number of files (a directory of CloudTrail log files is thousands).
pub struct Counter<'p> {
    pattern: &'p Pattern,
    prefilter: Prefilter,
    projection: Option<Projection>,
}

impl<'p> Counter<'p> {
    /// The counter of `pattern`: its prefilter and projection, built once.
    pub fn new(pattern: &'p Pattern) -> Counter<'p> {
        Counter { pattern, prefilter: Prefilter::new(pattern), projection: Projection::for_pattern(pattern, &[]) }
    }

    /// How many events `path` holds, and how many the pattern matches.
    pub fn count(&self, path: &str, format: Format) -> Result<(u64, u64), EventsError> {
        let (mut total, mut matched) = (0u64, 0u64);
        // One projected record at a time, in one map whose room is kept from record to record.
        let mut reused = Value::Object(serde_json::Map::new());
        try_scan(|visit| self.scan(path, format, visit), &mut |raw| {
            total += 1;
            if self.prefilter.admits(raw.kind, raw.bytes, Need::Matches, raw.escapes) {
                matched += u64::from(self.hit(&raw, path, format, &mut reused)?);
            }
            Ok(())
        })?;
        Ok((total, matched))
    }

    /// Hands `f` each event of `path` the pattern matches, parsed whole, with its 1-based index
    /// and `true`; and, while `near_misses()` says more are wanted, each event that shares a
    /// literal with the pattern without matching it (a near-miss candidate), with `false`.
    /// Decided by the counting path (prefilter, projection): a record is parsed whole only when
    /// it is handed out, so listing the matches costs what counting does plus their parsing
    /// (issue 27, item 2). Returns how many events `path` holds.
    pub fn list(
        &self,
        path: &str,
        format: Format,
        near_misses: &dyn Fn() -> bool,
        f: &mut dyn FnMut(u64, bool, LogEvent),
    ) -> Result<u64, EventsError> {
        let mut total = 0u64;
        let mut reused = Value::Object(serde_json::Map::new());
        try_scan(|visit| self.scan(path, format, visit), &mut |raw| {
            total += 1;
            let candidate = self.prefilter.admits(raw.kind, raw.bytes, Need::Matches, raw.escapes);
            let hit = candidate && self.hit(&raw, path, format, &mut reused)?;
            let near_miss = || near_misses() && self.prefilter.admits(raw.kind, raw.bytes, Need::NearMisses, raw.escapes);
            if hit || near_miss() {
                f(total, hit, raw.event(path, format)?);
            }
            Ok(())
        })?;
        Ok(total)
    }

    /// Splits `path` into raw events; with no literal to skip records by, every record is parsed
    /// anyway, so its members are found while it is split, in the same pass. Only the members
    /// the projection reads are kept (any key with a backslash may spell one).
    fn scan(&self, path: &str, format: Format, f: &mut dyn FnMut(Raw<'_>) -> bool) -> Result<(), EventsError> {
        let projection = &self.projection;
        let keeps = |key: &[u8], escaped: bool| escaped || projection.as_ref().is_some_and(|p| p.reads_key(key));
        let members: KeyFilter<'_> = (projection.is_some() && self.prefilter.admits_all()).then_some(&keeps);
        scan_members(path, format, members, f)
    }

    /// Whether the pattern matches `raw`, reading as little of it as the pattern needs.
    fn hit(&self, raw: &Raw<'_>, path: &str, format: Format, reused: &mut Value) -> Result<bool, EventsError> {
        let Counter { pattern, projection, .. } = self;
        let full = |raw: &Raw<'_>| raw.event(path, format).map(|ev| pattern.matches(&ev.as_event()));
        let projected = |v: &Value| pattern.matches(&Event { message: "", json: Some(v) });
        match (projection, raw.kind, format, raw.members) {
            // A JSON pattern reads only the parsed values it selects; what does not parse as
            // a projection goes the plain way (for its error, or its text-line reading).
            (Some(_), RawKind::Line, Format::Text, _) => Ok(false),
            (Some(p), RawKind::Line, Format::Auto | Format::CloudTrail, _) => {
                Ok(p.parse(raw.bytes).is_ok_and(|v| v.is_object() && projected(&v)))
            }
            // A record whose members the scan found while splitting it.
            (Some(p), _, _, Some(members)) => {
                let Value::Object(map) = reused else { unreachable!("an object") };
                if p.parse_members_into(raw.bytes, members, map) {
                    Ok(projected(reused))
                } else {
                    full(raw)
                }
            }
            (Some(p), _, _, None) => match p.parse(raw.bytes) {
                Ok(v @ Value::Object(_)) => Ok(projected(&v)),
                _ => full(raw),
            },
            // Term and space-delimited patterns on a text line read the line itself.
            (None, RawKind::Line, Format::Auto | Format::Text | Format::CloudTrail, _) => {
                Ok(pattern.matches(&Event { message: &String::from_utf8_lossy(raw.bytes), json: None }))
            }
            (None, _, _, _) => full(raw),
        }
    }
}

/// One line or one CloudTrail record, as raw bytes.
pub struct Raw<'a> {
    /// A line or a record.
    pub kind: RawKind,
    /// Its bytes, unparsed.
    pub bytes: &'a [u8],
    /// 1-based line number (lines only).
    pub line: u64,
    /// Whether the bytes may hold a JSON escape (false only when the scanner saw no backslash).
    pub escapes: bool,
    /// The record's top-level members (key between its quotes, value) that the scan's key filter
    /// kept, when it was asked to find them while splitting ([`scan_members`]); None otherwise.
    pub members: Option<&'a [Member]>,
}

/// Which top-level keys of a record to hand out (the key's bytes between its quotes).
/// Its arguments: the key's bytes, and whether they may hold an escape (then they may spell
/// any key).
pub type KeyFilter<'a> = Option<&'a dyn Fn(&[u8], bool) -> bool>;

/// A top-level member of a record: the byte ranges of its key (between the quotes) and value.
pub type Member = (std::ops::Range<usize>, std::ops::Range<usize>);

impl Raw<'_> {
    /// The event these bytes hold, read as `format` says.
    pub fn event(&self, path: &str, format: Format) -> Result<LogEvent, EventsError> {
        match self.kind {
            RawKind::Record => serde_json::from_slice::<Value>(self.bytes)
                .map(LogEvent::from_json)
                .map_err(|source| EventsError::Json { file: path.to_string(), source }),
            RawKind::Line => {
                let text = String::from_utf8_lossy(self.bytes);
                Ok(match format {
                    Format::Text => LogEvent { message: OnceCell::from(text.into_owned()), json: None, time: None },
                    Format::JsonLines => match serde_json::from_str::<Value>(&text) {
                        Ok(v @ Value::Object(_)) => LogEvent { message: OnceCell::from(text.into_owned()), ..LogEvent::from_json(v) },
                        Ok(_) => {
                            let reason = "a JSON value that is not an object".into();
                            return Err(EventsError::JsonLine { file: path.into(), line: self.line, reason });
                        }
                        Err(e) => return Err(EventsError::JsonLine { file: path.into(), line: self.line, reason: e.to_string() }),
                    },
                    _ => LogEvent::from_line(&text),
                })
            }
        }
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detected {
    Json,
    Lines,
}

/// A file is JSON (CloudTrail `Records`, an array of records, pretty-printed objects) when its
/// first line is the start of such a document; text logs that merely begin with `[` or `{`
/// (`[ERROR] 400 BAD REQUEST`) are text lines. JSON lines are lines: each is parsed on its own.
fn detect(head: &[u8]) -> Detected {
    // What a streamed file's first window shows, whether the file is streamed or read whole
    // (a CloudTrail log file is one line of megabytes).
    let head = &head[..head.len().min(CHUNK)];
    let line = memchr::memchr(b'\n', head).map_or(head, |i| &head[..i]);
    let line = line.trim_ascii();
    let after = |open: u8| line.strip_prefix(&[open]).map(<[u8]>::trim_ascii_start);
    match line.first() {
        Some(b'{') => {
            // (A CloudTrail file is one long line: it is recognised by its start, not parsed.)
            if !records_line(line) && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() {
                Detected::Lines
            } else if after(b'{').is_some_and(|r| r.is_empty() || r.starts_with(b"\"")) {
                Detected::Json
            } else {
                Detected::Lines
            }
        }
        Some(b'[') => match after(b'[') {
            Some(r) if r.starts_with(b"{") && r[1..].trim_ascii_start().first().is_none_or(|b| *b == b'"' || *b == b'}') => Detected::Json,
            Some(r) if r.is_empty() || r.starts_with(b"]") || serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() => {
                Detected::Json
            }
            _ => Detected::Lines,
        },
        _ => Detected::Lines,
    }
}

/// A one-line CloudTrail log file (`{"Records":[...]}` as CloudTrail writes it) is streamed
/// record by record, not read as one JSON line.
fn records_line(line: &[u8]) -> bool {
    line[1..].trim_ascii_start().starts_with(b"\"Records\"")
}

/// A growable window on a stream: `buf[start..end]` is read and not yet consumed.
struct Window {
    src: Box<dyn Read>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Bytes consumed before `buf[0]`, for error offsets.
    base: u64,
    /// `buf` holds a whole inflated file (and goes back to [`SPARE`] after).
    src_is_whole: bool,
}

const CHUNK: usize = 1 << 18;
/// The longest record or line the window grows to hold: a file that needs more is refused (a
/// CloudTrail record or a CloudWatch Logs event is at most a few hundred KiB), so memory stays
/// bounded whatever the input.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

impl Drop for Window {
    /// A window that held a whole inflated file hands its buffer to the next one.
    fn drop(&mut self) {
        // (Not one of the rare large ones: a thread keeps at most a log file's worth.)
        if self.src_is_whole && self.buf.capacity() <= SPARE_MAX {
            let buf = std::mem::take(&mut self.buf);
            SPARE.with(|spare| {
                if spare.borrow().capacity() < buf.capacity() {
                    *spare.borrow_mut() = buf;
                }
            });
        }
    }
}

impl Window {
    fn new(source: Source) -> Window {
        match source {
            Source::Stream(src) => Window { src, buf: vec![0; CHUNK], start: 0, end: 0, eof: false, base: 0, src_is_whole: false },
            // The whole text is the window: nothing more to read, nothing to copy.
            Source::Whole(buf, len) => {
                Window { src: Box::new(std::io::empty()), end: len, buf, start: 0, eof: true, base: 0, src_is_whole: true }
            }
        }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads more, keeping the unconsumed bytes; false at the end of the stream.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // A record longer than the window: grow it, up to the bound.
            if self.buf.len() >= MAX_RECORD_BYTES {
                return Err(std::io::Error::other(format!(
                    "a single record or line at byte {} is longer than {} MiB: not a CloudTrail or log file secmon can read (split it, or check what it is)",
                    self.base,
                    MAX_RECORD_BYTES >> 20
                )));
            }
            self.buf.resize((self.buf.len() * 2).min(MAX_RECORD_BYTES), 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Skips whitespace; the next byte, if any.
    fn peek_past_ws(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            let d = self.data();
            match d.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let b = d[i];
                    self.consume(i);
                    return Ok(Some(b));
                }
                None => {
                    let n = d.len();
                    self.consume(n);
                    if !self.fill()? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Applies `measure` to the window until it finds a complete item (its length, and what
    /// else the measure tells), reading more as needed; None when the stream ends first.
    fn complete<T>(&mut self, mut measure: impl FnMut(&[u8]) -> Option<T>) -> std::io::Result<Option<T>> {
        loop {
            if let Some(n) = measure(self.data()) {
                return Ok(Some(n));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }
}

/// Splits `path` into lines or CloudTrail records without parsing them, and hands each to `f`
/// (which returns false to stop).
pub fn scan(path: &str, format: Format, f: &mut dyn FnMut(Raw<'_>) -> bool) -> Result<(), EventsError> {
    scan_members(path, format, None, f)
}

/// [`scan`], also handing out the top-level members of each CloudTrail record whose key
/// `members` keeps ([`Raw::members`]), found in the pass that splits the records.
pub fn scan_members(path: &str, format: Format, members: KeyFilter<'_>, f: &mut dyn FnMut(Raw<'_>) -> bool) -> Result<(), EventsError> {
    let io = |source| EventsError::Io { file: path.to_string(), source };
    let mut w = Window::new(open_source(path)?);
    w.fill().map_err(io)?;
    let json = match format {
        Format::Auto => detect(w.data()) == Detected::Json,
        Format::CloudTrail => true,
        Format::JsonLines | Format::Text => false,
    };
    if json {
        scan_json(path, &mut w, members, f)
    } else {
        scan_lines(&mut w, f).map_err(io)
    }
}

fn scan_lines(w: &mut Window, f: &mut dyn FnMut(Raw<'_>) -> bool) -> std::io::Result<()> {
    let mut line = 0u64;
    loop {
        let (len, next) = match memchr::memchr(b'\n', w.data()) {
            Some(i) => (i, i + 1),
            None if w.fill()? => continue,
            None if w.data().is_empty() => return Ok(()),
            None => (w.data().len(), w.data().len()),
        };
        line += 1;
        let mut bytes = &w.data()[..len];
        if let Some(b) = bytes.strip_suffix(b"\r") {
            bytes = b;
        }
        if !bytes.trim_ascii().is_empty() && !f(Raw { kind: RawKind::Line, bytes, line, escapes: true, members: None }) {
            return Ok(());
        }
        w.consume(next);
    }
}

fn scan_json(path: &str, w: &mut Window, members: KeyFilter<'_>, f: &mut dyn FnMut(Raw<'_>) -> bool) -> Result<(), EventsError> {
    let io = |source| EventsError::Io { file: path.to_string(), source };
    let malformed = |w: &Window, what: &str| EventsError::Malformed {
        file: path.to_string(),
        offset: w.base + w.start as u64,
        message: what.to_string(),
    };
    loop {
        match w.peek_past_ws().map_err(io)? {
            None => return Ok(()),
            Some(b'[') => {
                w.consume(1);
                if !scan_array(path, w, members, f)? {
                    return Ok(());
                }
            }
            Some(b'{') => {
                let prefix = w.complete(records_prefix).map_err(io)?;
                match prefix {
                    Some(n) if n > 0 => {
                        w.consume(n);
                        if !scan_array(path, w, members, f)? {
                            return Ok(());
                        }
                        // The rest of the log file object: more keys (skipped), then `}`.
                        loop {
                            match w.peek_past_ws().map_err(io)? {
                                Some(b'}') => {
                                    w.consume(1);
                                    break;
                                }
                                Some(b',') => {
                                    w.consume(1);
                                    w.peek_past_ws().map_err(io)?;
                                    let key = w.complete(skip_value).map_err(io)?.ok_or_else(|| malformed(w, "unexpected end of file"))?;
                                    w.consume(key);
                                    if w.peek_past_ws().map_err(io)? != Some(b':') {
                                        return Err(malformed(w, "expected `:`"));
                                    }
                                    w.consume(1);
                                    w.peek_past_ws().map_err(io)?;
                                    let value =
                                        w.complete(skip_value).map_err(io)?.ok_or_else(|| malformed(w, "unexpected end of file"))?;
                                    w.consume(value);
                                }
                                _ => return Err(malformed(w, "expected `,` or `}` after the Records array")),
                            }
                        }
                    }
                    _ => {
                        // Any other object is one event (its own `Records`, if any, streamed).
                        let n = w.complete(skip_value).map_err(io)?.ok_or_else(|| malformed(w, "unexpected end of file"))?;
                        if !emit_object(path, &w.data()[..n], f)? {
                            return Ok(());
                        }
                        w.consume(n);
                    }
                }
            }
            Some(_) => return Err(malformed(w, "expected a JSON object or array")),
        }
    }
}

/// A CloudTrail log file's opening `{ "Records" : [`: its length, 0 when the object starts
/// otherwise, None when more bytes are needed to tell.
fn records_prefix(d: &[u8]) -> Option<usize> {
    let mut i = 1;
    for want in [&b"\"Records\""[..], b":", b"["] {
        while d.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let have = &d[i.min(d.len())..];
        if have.len() < want.len() {
            return if want.starts_with(have) { None } else { Some(0) };
        }
        if !have.starts_with(want) {
            return Some(0);
        }
        i += want.len();
    }
    Some(i)
}

/// An object that is not `Records`-first: one event, unless it holds a `Records` array.
fn emit_object(path: &str, bytes: &[u8], f: &mut dyn FnMut(Raw<'_>) -> bool) -> Result<bool, EventsError> {
    if memchr::memmem::find(bytes, b"\"Records\"").is_some() {
        let v: Value = serde_json::from_slice(bytes).map_err(|source| EventsError::Json { file: path.to_string(), source })?;
        if let Some(records) = v.get("Records").and_then(Value::as_array) {
            for r in records {
                let text = serde_json::to_vec(r).expect("value");
                if !f(Raw { kind: RawKind::Record, bytes: &text, line: 0, escapes: true, members: None }) {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
    }
    Ok(f(Raw { kind: RawKind::Record, bytes, line: 0, escapes: true, members: None }))
}

/// The elements of an array whose `[` is consumed, through its `]`; false when `f` stopped.
fn scan_array(path: &str, w: &mut Window, members: KeyFilter<'_>, f: &mut dyn FnMut(Raw<'_>) -> bool) -> Result<bool, EventsError> {
    let io = |source| EventsError::Io { file: path.to_string(), source };
    // Whether the last record measured was walked, and its kept members.
    let (mut walked, mut found) = (false, Vec::<Member>::new());
    loop {
        match w.peek_past_ws().map_err(io)? {
            Some(b']') => {
                w.consume(1);
                return Ok(true);
            }
            Some(b',') => w.consume(1),
            Some(_) => {
                // Records are objects: the scanner also says whether one holds a backslash.
                // A record the member walker does not understand is measured the plain way,
                // and handed out without members (its parser then says what is wrong).
                let measure = |d: &[u8]| match (d.first(), members) {
                    (Some(b'{'), Some(keeps)) => {
                        found.clear();
                        let measured = crate::jsonscan::walk_object(d, &mut |k, v, escaped| {
                            if keeps(&d[k.clone()], escaped) {
                                found.push((k, v));
                            }
                            true
                        });
                        walked = measured.is_some();
                        measured.or_else(|| crate::jsonscan::skip_nested_escapes(d))
                    }
                    (Some(b'{'), None) => crate::jsonscan::skip_nested_escapes(d),
                    _ => skip_value(d).map(|n| (n, true)),
                };
                let Some((n, escapes)) = w.complete(measure).map_err(io)? else {
                    return Err(EventsError::Malformed {
                        file: path.to_string(),
                        offset: w.base + w.start as u64,
                        message: "unexpected end of file inside a record".into(),
                    });
                };
                let members = (members.is_some() && walked).then_some(&found[..]);
                if !f(Raw { kind: RawKind::Record, bytes: &w.data()[..n], line: 0, escapes, members }) {
                    return Ok(false);
                }
                w.consume(n);
            }
            None => {
                return Err(EventsError::Malformed {
                    file: path.to_string(),
                    offset: w.base + w.start as u64,
                    message: "unexpected end of file: the array is not closed".into(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cloudtrail_times() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2025-03-19T18:44:29Z"), Some(1742409869));
        assert_eq!(parse_time("2025-03-19T18:44:29.123Z"), Some(1742409869));
        assert_eq!(parse_time("yesterday"), None);
        for t in [0, 1742409869, 951782400, 4102444799] {
            assert_eq!(parse_time(&format_time(t)), Some(t));
        }
    }
}
