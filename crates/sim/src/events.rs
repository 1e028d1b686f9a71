//! Reading events as CloudTrail writes them, streaming: a CloudTrail log file
//! (`{"Records":[...]}`, gzipped or not, as delivered to S3), a JSON array of records, JSON lines,
//! or plain text lines, detected per file from its first line ([`Format::Auto`]) or forced.
//! Records are handed out one at a time; a file is never loaded whole.

use std::cell::OnceCell;
use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// One log event: its message as CloudWatch Logs would hold it, JSON when it is, and its time.
#[derive(Debug, Clone)]
pub struct LogEvent {
    /// Filled on first use for records read from a CloudTrail file: JSON patterns never need it.
    message: OnceCell<String>,
    pub json: Option<Value>,
    /// Seconds since the epoch (`eventTime` of a CloudTrail record), when known.
    pub time: Option<i64>,
}

impl LogEvent {
    pub fn from_json(v: Value) -> LogEvent {
        let time = v.get("eventTime").or_else(|| v.get("timestamp")).and_then(Value::as_str).and_then(parse_time);
        LogEvent { message: OnceCell::new(), json: Some(v), time }
    }

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

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not valid CloudTrail JSON: {source} (read it as text lines with `--format text`)")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{file}:{line}: not a JSON object ({reason}); `--format json-lines` needs one per line")]
    JsonLine { file: String, line: u64, reason: String },
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

/// Opens `path` (`-` is standard input), decompressing gzip when the file starts with its magic.
pub fn open(path: &str) -> Result<Box<dyn BufRead>, EventsError> {
    let io = |source| EventsError::Io { file: path.to_string(), source };
    let raw: Box<dyn Read> = if path == "-" { Box::new(std::io::stdin()) } else { Box::new(std::fs::File::open(path).map_err(io)?) };
    let mut r = BufReader::with_capacity(1 << 20, raw);
    let head = r.fill_buf().map_err(io)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(1 << 20, MultiGzDecoder::new(r))))
    } else {
        Ok(Box::new(r))
    }
}

/// Streams every event of `path` to `f`, detecting the format (see [`for_each_as`]).
pub fn for_each(path: &str, f: &mut dyn FnMut(LogEvent)) -> Result<u64, EventsError> {
    for_each_as(path, Format::Auto, f)
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
    let line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    let line = line.trim_ascii();
    let after = |open: u8| line.strip_prefix(&[open]).map(<[u8]>::trim_ascii_start);
    match line.first() {
        Some(b'{') => {
            if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() && !records_line(line) {
                Detected::Lines
            } else if after(b'{').is_some_and(|r| r.is_empty() || r.starts_with(b"\"")) {
                Detected::Json
            } else {
                Detected::Lines
            }
        }
        Some(b'[') => match after(b'[') {
            Some(r) if r.is_empty() || r.starts_with(b"]") || serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() => {
                Detected::Json
            }
            Some(r) if r.starts_with(b"{") && r[1..].trim_ascii_start().first().is_none_or(|b| *b == b'"' || *b == b'}') => Detected::Json,
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

/// Streams every event of `path` to `f`, read as `format` says: CloudTrail JSON (top-level
/// arrays of records, `{"Records":[...]}` files streamed record by record, other objects one
/// event each), JSON lines, or text lines.
pub fn for_each_as(path: &str, format: Format, f: &mut dyn FnMut(LogEvent)) -> Result<u64, EventsError> {
    let mut r = open(path)?;
    let io = |source| EventsError::Io { file: path.to_string(), source };
    let format = match format {
        Format::Auto => match detect(r.fill_buf().map_err(io)?) {
            Detected::Json => Format::CloudTrail,
            Detected::Lines => Format::Auto,
        },
        other => other,
    };
    match format {
        Format::CloudTrail => json_documents(path, &mut r, f),
        lines => text_lines(path, &mut r, lines, f),
    }
}

fn json_documents(path: &str, r: &mut Box<dyn BufRead>, f: &mut dyn FnMut(LogEvent)) -> Result<u64, EventsError> {
    let io = |source| EventsError::Io { file: path.to_string(), source };
    let json_err = |source| EventsError::Json { file: path.to_string(), source };
    let mut count = 0u64;
    let mut emit = |v: Value| {
        count += 1;
        f(LogEvent::from_json(v));
    };
    loop {
        let first = loop {
            let buf = r.fill_buf().map_err(io)?;
            if buf.is_empty() {
                break None;
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let c = buf[i];
                    r.consume(i);
                    break Some(c);
                }
                None => {
                    let n = buf.len();
                    r.consume(n);
                }
            }
        };
        let mut de = serde_json::Deserializer::from_reader(&mut *r);
        match first {
            None => break,
            Some(b'[') => serde::Deserializer::deserialize_seq(&mut de, Records(&mut emit)).map_err(json_err)?,
            _ => serde::Deserializer::deserialize_map(&mut de, Object(&mut emit)).map_err(json_err)?,
        }
    }
    Ok(count)
}

fn text_lines(path: &str, r: &mut Box<dyn BufRead>, format: Format, f: &mut dyn FnMut(LogEvent)) -> Result<u64, EventsError> {
    let io = |source| EventsError::Io { file: path.to_string(), source };
    let (mut count, mut number) = (0u64, 0u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).map_err(io)? == 0 {
            break;
        }
        number += 1;
        let text = String::from_utf8_lossy(&line);
        let l = text.trim_end_matches(['\n', '\r']);
        if l.trim().is_empty() {
            continue;
        }
        let event = match format {
            Format::Text => LogEvent { message: OnceCell::from(l.to_string()), json: None, time: None },
            Format::JsonLines => match serde_json::from_str::<Value>(l) {
                Ok(v @ Value::Object(_)) => LogEvent { message: OnceCell::from(l.to_string()), ..LogEvent::from_json(v) },
                Ok(_) => {
                    return Err(EventsError::JsonLine {
                        file: path.into(),
                        line: number,
                        reason: "a JSON value that is not an object".into(),
                    })
                }
                Err(e) => return Err(EventsError::JsonLine { file: path.into(), line: number, reason: e.to_string() }),
            },
            _ => LogEvent::from_line(l),
        };
        count += 1;
        f(event);
    }
    Ok(count)
}

struct Records<'f>(&'f mut dyn FnMut(Value));

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            (self.0)(v);
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// A top-level object: a CloudTrail log file (its `Records` streamed) or one event.
struct Object<'f>(&'f mut dyn FnMut(Value));

impl<'de> Visitor<'de> for Object<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a CloudTrail log file {\"Records\": [...]} or a JSON event")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut other = serde_json::Map::new();
        let mut records = false;
        while let Some(k) = map.next_key::<String>()? {
            if k == "Records" {
                records = true;
                map.next_value_seed(Records(&mut *self.0))?;
            } else if records {
                map.next_value::<IgnoredAny>()?;
            } else {
                other.insert(k, map.next_value::<Value>()?);
            }
        }
        if !records {
            (self.0)(Value::Object(other));
        }
        Ok(())
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
