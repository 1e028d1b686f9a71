//! Reading events as CloudTrail writes them, streaming: a CloudTrail log file
//! (`{"Records":[...]}`, gzipped or not, as delivered to S3), a JSON array of records, JSON lines,
//! or plain text lines. Records are handed out one at a time; a file is never loaded whole.

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
    #[error("{file}: not valid CloudTrail JSON: {source}")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
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

/// Streams every event of `path` to `f`: top-level JSON arrays of records, objects (a CloudTrail
/// file's `Records` are streamed one by one; any other object is one event, so JSON lines work),
/// and, from the first line that is not JSON, plain text lines.
pub fn for_each(path: &str, f: &mut dyn FnMut(LogEvent)) -> Result<u64, EventsError> {
    let mut r = open(path)?;
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
        match first {
            None => break,
            Some(b'[') => {
                let mut de = serde_json::Deserializer::from_reader(&mut r);
                serde::Deserializer::deserialize_seq(&mut de, Records(&mut emit)).map_err(json_err)?;
            }
            Some(b'{') if records_ahead(&mut r) => {
                let mut de = serde_json::Deserializer::from_reader(&mut r);
                serde::Deserializer::deserialize_map(&mut de, Object(&mut emit)).map_err(json_err)?;
            }
            Some(_) => {
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).map_err(io)? == 0 {
                        break;
                    }
                    let l = line.trim_end_matches(['\n', '\r']);
                    if !l.trim().is_empty() {
                        count += 1;
                        f(LogEvent::from_line(l));
                    }
                }
                break;
            }
        }
    }
    Ok(count)
}

/// Whether the object starting here is a CloudTrail log file (`{"Records": [...`), to be
/// streamed record by record; any other object starts JSON lines, read line by line.
fn records_ahead(r: &mut Box<dyn BufRead>) -> bool {
    let Ok(buf) = r.fill_buf() else { return false };
    let rest = buf.strip_prefix(b"{").unwrap_or(buf);
    let start = rest.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(rest.len());
    rest[start..].starts_with(b"\"Records\"")
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
