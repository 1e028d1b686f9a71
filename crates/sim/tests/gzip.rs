//! Issue 12: gzipped CloudTrail log files. CloudTrail writes each log file as one gzip member,
//! which secmon inflates whole (libdeflate); anything else is streamed. Whichever way a file is
//! read, every record of every member counts, and a damaged file is an error, never a short
//! count.

use std::io::Write;
use std::path::Path;

use secmon_sim::events::{count_matches, Format};
use secmon_sim::Pattern;

/// A CloudTrail log file of `n` records, `gets` of them GetSecretValue, padded with spaces to
/// `len` bytes when given.
fn log_file(n: usize, gets: usize, len: Option<usize>) -> String {
    let records: Vec<String> = (0..n)
        .map(|i| {
            let name = if i < gets { "GetSecretValue" } else { "DescribeSecret" };
            format!(r#"{{"eventVersion":"1.08","eventSource":"secretsmanager.amazonaws.com","eventName":"{name}","eventID":"{i:08}","readOnly":true}}"#)
        })
        .collect();
    let mut text = format!(r#"{{"Records":[{}]}}"#, records.join(","));
    if let Some(len) = len {
        assert!(text.len() <= len);
        text.push_str(&" ".repeat(len - text.len()));
    }
    text
}

fn gzip(text: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap()
}

fn count(path: &Path, pattern: &str) -> Result<(u64, u64), String> {
    count_matches(path.to_str().unwrap(), Format::Auto, &Pattern::parse(pattern).unwrap()).map_err(|e| e.to_string())
}

const GETS: &str = r#"{ $.eventName = "GetSecretValue" }"#;
const WRITES: &str = "{ ($.readOnly IS FALSE) && ($.errorCode NOT EXISTS) }";

#[test]
fn every_member_of_a_gzip_file_is_read() {
    let scratch = tempfile::tempdir().unwrap();
    let one = gzip(&log_file(300, 7, None));
    let other = gzip(&log_file(200, 5, None));
    let cases: [(&str, Vec<u8>, (u64, u64)); 3] = [
        ("one log file, as CloudTrail writes it", one.clone(), (300, 7)),
        ("two log files concatenated (cat a.gz b.gz)", [one.clone(), other].concat(), (500, 12)),
        // The same member twice: same size and CRC in both trailers, the case a decoder that
        // stops after the first member would miss.
        ("the same log file twice", [one.clone(), one].concat(), (600, 14)),
    ];
    for (what, bytes, want) in cases {
        let path = scratch.path().join("events.json.gz");
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(count(&path, GETS), Ok(want), "{what}");
        assert_eq!(count(&path, WRITES), Ok((want.0, 0)), "{what}, no literal");
    }
}

#[test]
fn a_member_whose_bytes_contain_the_gzip_magic_is_still_read_whole_or_streamed() {
    // A text of 0x088b1f bytes: its trailer's ISIZE is written `1f 8b 08 00`, the bytes that
    // start a member, so the file looks like it may hold two.
    let text = log_file(2000, 3, Some(0x0008_8b1f));
    let bytes = gzip(&text);
    assert!(bytes.windows(3).skip(1).any(|w| w == [0x1f, 0x8b, 0x08]));
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("events.json.gz");
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(count(&path, GETS), Ok((2000, 3)));
}

#[test]
fn a_damaged_gzip_file_is_an_error_not_a_short_count() {
    let scratch = tempfile::tempdir().unwrap();
    let good = gzip(&log_file(300, 7, None));
    let mut bad_crc = good.clone();
    let at = bad_crc.len() - 6;
    bad_crc[at] ^= 0xff;
    // A trailer that claims 200 MiB for a few hundred bytes of deflate is an error (and the
    // expansion bound keeps secmon from setting 200 MiB aside for it first).
    let mut lying = good.clone();
    let n = lying.len();
    lying[n - 4..].copy_from_slice(&(200u32 << 20).to_le_bytes());
    for (what, bytes) in [("truncated", good[..good.len() / 2].to_vec()), ("a wrong CRC", bad_crc), ("a lying size", lying)] {
        let path = scratch.path().join("events.json.gz");
        std::fs::write(&path, bytes).unwrap();
        for pattern in [GETS, WRITES] {
            assert!(count(&path, pattern).is_err(), "{what}: {pattern} counted {:?}", count(&path, pattern));
        }
    }
}
