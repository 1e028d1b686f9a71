//! Which raw records a pattern cannot match, decided without parsing them.
//!
//! A pattern's literals (`"GetSecretValue"`, `secretsmanager.amazonaws.com`) are necessary
//! conditions: an event the pattern matches contains them. [`Prefilter`] holds them as a
//! conjunction of clauses (each clause: at least one of its literals appears), searched with
//! SIMD substring search in the raw bytes of a line or a CloudTrail record. A record that fails
//! is skipped unparsed; one that passes is parsed and judged by the full evaluator, so the
//! prefilter decides speed, never the result.
//!
//! The one way raw bytes can hide a literal is a JSON escape: `"Get\u0053ecretValue"` is
//! `GetSecretValue`. So in JSON text only literals that an escape cannot spell otherwise are
//! used (no `"`, `\`, `/` or control characters), and any record containing `\u` is a
//! candidate. Literals that could be part of a number's text (only digits, `.`, `e`, `+`, `-`)
//! are never used: `1e3` and `1000` are the same number. A property test compares the fast
//! path with the plain evaluator on records full of escapes.

use aho_corasick::AhoCorasick;
use memchr::memmem;

use crate::pattern::{Expr, Literal, Op, Pattern, Term, Test};

/// What the bytes a prefilter looks at are, relative to what the pattern sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// The message itself (a text or JSON line read as a line): a term must appear verbatim.
    Message,
    /// JSON text whose parsed values a JSON pattern compares (escapes may spell characters).
    JsonValues,
    /// JSON text of a CloudTrail record whose message is its compact re-serialisation
    /// (whitespace and number formatting may differ): only word-like literals are safe.
    JsonMessage,
}

/// One clause: at least one of its literals appears.
#[derive(Debug, Clone)]
enum Clause {
    One(Box<memmem::Finder<'static>>),
    Any(AhoCorasick),
}

impl Clause {
    fn new(literals: &[String]) -> Clause {
        if let [one] = literals {
            Clause::One(Box::new(memmem::Finder::new(one.as_bytes()).into_owned()))
        } else {
            Clause::Any(AhoCorasick::new(literals).expect("literal set"))
        }
    }

    fn found(&self, raw: &[u8]) -> bool {
        match self {
            Clause::One(f) => f.find(raw).is_some(),
            Clause::Any(a) => a.is_match(raw),
        }
    }
}

/// The clauses of one context, and the literal union that near-miss reports use.
#[derive(Debug, Clone)]
struct Clauses {
    all: Vec<Clause>,
    /// Any literal of any clause: an event sharing none with the pattern is no near miss.
    any: Option<Clause>,
    escapes_matter: bool,
    unicode_escape: memmem::Finder<'static>,
}

impl Default for Clauses {
    fn default() -> Clauses {
        Clauses::build(Vec::new(), false)
    }
}

impl Clauses {
    fn build(cnf: Vec<Vec<String>>, escapes_matter: bool) -> Clauses {
        let union: Vec<String> = cnf.iter().flatten().cloned().collect();
        Clauses {
            all: cnf.iter().map(|c| Clause::new(c)).collect(),
            any: (!union.is_empty()).then(|| Clause::new(&union)),
            escapes_matter,
            unicode_escape: memmem::Finder::new(b"\\u").into_owned(),
        }
    }

    fn admits(&self, raw: &[u8], need: Need, may_escape: bool) -> bool {
        if self.all.is_empty() {
            return true;
        }
        if self.escapes_matter && may_escape && self.unicode_escape.find(raw).is_some() {
            return true;
        }
        match need {
            Need::Matches => self.all.iter().all(|c| c.found(raw)),
            Need::NearMisses => self.any.as_ref().is_none_or(|c| c.found(raw)),
            Need::Everything => true,
        }
    }
}

/// Which events the caller needs parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Only events the pattern may match.
    Matches,
    /// Those, and events that share a literal with the pattern (near-miss candidates).
    NearMisses,
    /// Every event (no prefilter).
    Everything,
}

/// A pattern's necessary literals, for lines and for CloudTrail records.
#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    lines: Clauses,
    records: Clauses,
}

/// Whether a record or line is a line (its message is its text) or a record of a CloudTrail
/// JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    /// A line of text or JSON lines.
    Line,
    /// A record of a CloudTrail log file (`Records` array).
    Record,
}

impl Prefilter {
    /// The literals `pattern` needs, for lines and for records.
    pub fn new(pattern: &Pattern) -> Prefilter {
        match pattern {
            Pattern::All | Pattern::Delimited(_) => Prefilter::default(),
            Pattern::Json(e) => {
                let cnf = json_cnf(e).unwrap_or_default();
                Prefilter { lines: Clauses::build(cnf.clone(), true), records: Clauses::build(cnf, true) }
            }
            Pattern::Terms(t) => {
                let cnf = |ctx: Context| {
                    let mut out = Vec::new();
                    for term in &t.all {
                        if let Some(l) = term_literal(term, ctx) {
                            out.push(vec![l]);
                        }
                    }
                    let any: Option<Vec<String>> =
                        if t.any_ignored() { None } else { t.any.iter().map(|x| term_literal(x, ctx)).collect() };
                    if let Some(any) = any.filter(|a| !a.is_empty()) {
                        out.push(any);
                    }
                    out
                };
                Prefilter { lines: Clauses::build(cnf(Context::Message), false), records: Clauses::build(cnf(Context::JsonMessage), true) }
            }
        }
    }

    /// Whether the raw bytes may hold an event the caller needs; false only when the pattern
    /// certainly does not match (and, for near misses, shares no literal with it).
    /// `may_escape` is false when the reader saw no backslash in them: no escape can hide a
    /// literal, and the search for one is skipped.
    pub fn admits(&self, kind: RawKind, raw: &[u8], need: Need, may_escape: bool) -> bool {
        match kind {
            RawKind::Line => self.lines.admits(raw, need, may_escape),
            RawKind::Record => self.records.admits(raw, need, may_escape),
        }
    }

    /// Whether every record and line passes (the pattern has no usable literal).
    pub fn admits_all(&self) -> bool {
        self.lines.all.is_empty() && self.records.all.is_empty()
    }

    /// Whether any literal is used at all (for reports).
    pub fn is_empty(&self) -> bool {
        self.lines.all.is_empty() && self.records.all.is_empty()
    }
}

fn term_literal(term: &Term, ctx: Context) -> Option<String> {
    match term {
        // A whitespace-only term matches everything: no requirement.
        Term::Text(t) if !t.trim().is_empty() => safe(t, ctx).then(|| t.clone()),
        _ => None,
    }
}

/// Whether `lit` found in the raw bytes is a faithful test in this context.
fn safe(lit: &str, ctx: Context) -> bool {
    if lit.is_empty() {
        return false;
    }
    let numeric = lit.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    match ctx {
        Context::Message => true,
        Context::JsonValues => !numeric && !lit.chars().any(|c| c == '"' || c == '\\' || c == '/' || c.is_control()),
        Context::JsonMessage => !numeric && lit.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '-')),
    }
}

/// The longest segment of a `*` wildcard text that is safe to search for.
fn glob_literal(text: &str) -> Option<String> {
    text.split('*').filter(|s| safe(s, Context::JsonValues)).max_by_key(|s| s.len()).map(str::to_string)
}

/// Necessary literals of a JSON expression, as clauses; None when nothing is required.
fn json_cnf(e: &Expr) -> Option<Vec<Vec<String>>> {
    match e {
        Expr::And(a, b) => match (json_cnf(a), json_cnf(b)) {
            (None, None) => None,
            (Some(x), None) | (None, Some(x)) => Some(x),
            (Some(mut x), Some(y)) => {
                x.extend(y);
                Some(x)
            }
        },
        // Either side implies each of its own clauses, so the union of one clause of each side
        // is implied by the disjunction.
        Expr::Or(a, b) => {
            let (mut x, y) = (json_cnf(a)?.into_iter().next()?, json_cnf(b)?.into_iter().next()?);
            for l in y {
                if !x.contains(&l) {
                    x.push(l);
                }
            }
            Some(vec![x])
        }
        Expr::Cmp(c) => match &c.test {
            Test::Compare(Op::Eq, Literal::Text { text, number: None }) => glob_literal(text).map(|l| vec![vec![l]]),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cnf(p: &str) -> Vec<Vec<String>> {
        match Pattern::parse(p).unwrap() {
            Pattern::Json(e) => json_cnf(&e).unwrap_or_default(),
            _ => panic!("json"),
        }
    }

    #[test]
    fn literals_of_json_patterns() {
        assert_eq!(
            cnf(r#"{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "GetSecretValue") }"#),
            [vec!["secretsmanager.amazonaws.com".to_string()], vec!["GetSecretValue".to_string()]]
        );
        assert_eq!(cnf("{ $.a = X || $.b = Y }"), [vec!["X".to_string(), "Y".to_string()]]);
        assert!(cnf("{ $.a = X || $.b != Y }").is_empty(), "!= requires nothing");
        assert!(cnf("{ $.n = 1000 }").is_empty(), "numbers have many spellings");
        assert!(cnf("{ $.n = 10* }").is_empty());
        assert_eq!(cnf("{ $.arn = \"arn:aws:iam::*:user/Admin\" }"), [vec!["arn:aws:iam::".to_string()]], "no `/`");
        assert_eq!(cnf("{ $.e = *UnauthorizedOperation }"), [vec!["UnauthorizedOperation".to_string()]]);
        assert!(cnf("{ $.a NOT EXISTS && $.b IS TRUE }").is_empty());
    }

    #[test]
    fn escapes_make_a_record_a_candidate() {
        let p = Prefilter::new(&Pattern::parse(r#"{ $.eventName = "GetSecretValue" }"#).unwrap());
        assert!(!p.admits(RawKind::Record, br#"{"eventName":"DescribeSecret"}"#, Need::Matches, true));
        assert!(p.admits(RawKind::Record, br#"{"eventName":"GetSecretValue"}"#, Need::Matches, true));
        assert!(p.admits(RawKind::Record, br#"{"eventName":"Get\u0053ecretValue"}"#, Need::Matches, true));
    }

    #[test]
    fn terms_on_records_use_only_word_literals() {
        let p = Prefilter::new(&Pattern::parse(r#"GetSecretValue "\"eventName\":""#).unwrap());
        // The quoted term could only be judged on the re-serialised message: not used.
        assert_eq!(p.records.all.len(), 1);
        assert_eq!(p.lines.all.len(), 2);
        assert!(!p.admits(RawKind::Record, br#"{"eventName": "Other"}"#, Need::Matches, true));
    }

    #[test]
    fn ignored_question_mark_terms_require_nothing() {
        let p = Prefilter::new(&Pattern::parse("?ERROR ?WARN REQUEST").unwrap());
        assert!(p.admits(RawKind::Line, b"INFO REQUEST", Need::Matches, true));
        assert!(!p.admits(RawKind::Line, b"ERROR only", Need::Matches, true));
        let p = Prefilter::new(&Pattern::parse("?ERROR ?WARN").unwrap());
        assert!(p.admits(RawKind::Line, b"a WARN", Need::Matches, true) && !p.admits(RawKind::Line, b"INFO", Need::Matches, true));
        assert!(Prefilter::new(&Pattern::parse("\" \"").unwrap()).is_empty());
    }
}
