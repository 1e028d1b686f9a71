//! The CloudWatch Logs filter-pattern language: parser and evaluator.
//!
//! Three forms, chosen by the first character, as CloudWatch Logs does:
//! - **terms** (unstructured): `ERROR`, `"exact phrase"`, `?ERROR ?WARN` (any of), `-term`
//!   (none of), `%regex%`; plain terms must all appear (case-sensitive substring match);
//! - **JSON** `{ $.a.b[0] = "x*" && ($.n >= 10 || $.f IS TRUE) }` with `=`/`!=` on strings
//!   (with `*` wildcards), numeric comparisons, `IS NULL`, `NOT EXISTS`, `IS TRUE/FALSE`,
//!   `%regex%` values and array indexing; a selector that does not reach a value (missing, an
//!   object or an array) makes every comparison on it false, `!=` included;
//! - **space-delimited** `[ip, user, ..., status = 4* && bytes > 1000]`: fields split on
//!   spaces, with `"..."` and `[...]` each one field; `...` matches any number of fields.
//!
//! Syntax errors carry the 1-based column. Parsing never panics, whatever the input (property
//! tested); evaluation never allocates per event beyond the delimited split.

use std::fmt;

use regex::Regex;
use serde_json::Value;

/// A syntax error at a column (1-based, in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct PatternError {
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

/// A log event as a metric filter sees it: its message, and the message parsed as JSON when it is.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// The log event's message.
    pub message: &'a str,
    /// The message parsed, when it is a JSON object.
    pub json: Option<&'a Value>,
}

/// A CloudWatch Logs filter pattern, parsed: one of its three syntaxes.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// The empty pattern matches every event.
    All,
    /// Terms matched in the message text (`ERROR`, `?A ?B`, `-C`).
    Terms(Terms),
    /// A JSON pattern: `{ $.field = value && ... }`.
    Json(Expr),
    /// A space-delimited pattern: `[ip, user, ...]`.
    Delimited(Delimited),
}

/// One term of a term pattern.
#[derive(Debug, Clone)]
pub enum Term {
    /// Text the message must contain.
    Text(String),
    /// A regular expression (`%...%`) the message must match.
    Regex(Regex),
}

impl Term {
    fn matches(&self, s: &str) -> bool {
        match self {
            // AWS documents `" "` as the pattern that matches every event.
            Term::Text(t) => t.trim().is_empty() || s.contains(t.as_str()),
            Term::Regex(r) => r.is_match(s),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Text(t) => write!(f, "{t:?}"),
            Term::Regex(r) => write!(f, "%{}%", r.as_str()),
        }
    }
}

/// A term pattern's terms, by how they combine.
#[derive(Debug, Clone, Default)]
pub struct Terms {
    /// Plain terms: every one must occur.
    pub all: Vec<Term>,
    /// `?` terms: one must occur (ignored beside plain or `-` terms).
    pub any: Vec<Term>,
    /// `-` terms: none may occur.
    pub none: Vec<Term>,
}

impl Terms {
    /// AWS ignores `?` terms when the pattern also has plain or `-` terms
    /// (`?ERROR ?ARGUMENTS REQUEST` matches every event containing REQUEST).
    pub fn any_ignored(&self) -> bool {
        !self.any.is_empty() && (!self.all.is_empty() || !self.none.is_empty())
    }

    fn effective_any(&self) -> &[Term] {
        if self.any_ignored() {
            &[]
        } else {
            &self.any
        }
    }
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone)]
pub enum Literal {
    /// Text, possibly with `*` wildcards; `number` when it also reads as a number.
    Text {
        /// The text as written.
        text: String,
        /// Its value, when it reads as a number.
        number: Option<f64>,
    },
    /// A regular expression (`%...%`).
    Regex(Regex),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

impl Op {
    /// As written in patterns (and in EventBridge's and Logs Insights' numeric comparisons).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
        }
    }
}

/// One step of a JSON selector (`$.a.b[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object's member.
    Key(String),
    /// An array's element.
    Index(usize),
    /// `.*` or `[*]`: every field of an object, every element of an array.
    Any,
}

/// AWS quotas on JSON patterns: one wildcard per selector, three per pattern; two regular
/// expressions per JSON or space-delimited pattern.
pub const MAX_WILDCARDS_PER_SELECTOR: usize = 1;
/// Wildcards per JSON pattern.
pub const MAX_WILDCARDS_PER_PATTERN: usize = 3;
/// Regular expressions per pattern.
pub const MAX_REGEXES_PER_PATTERN: usize = 2;
/// "There is also a quota of five regular expression patterns per log group" (PutMetricFilter
/// API reference): filters whose pattern holds a regular expression, other tools' included.
pub const MAX_REGEX_FILTERS_PER_LOG_GROUP: usize = 5;

/// What a JSON comparison tests of the selected value.
#[derive(Debug, Clone)]
pub enum Test {
    /// Compares it with a literal.
    Compare(Op, Literal),
    /// `IS NULL`
    IsNull,
    /// `NOT EXISTS`
    NotExists,
    /// `IS TRUE` / `IS FALSE`
    IsBool(bool),
}

/// One JSON comparison, with its source text for explanations.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The selector, step by step.
    pub selector: Vec<Step>,
    /// The selector as written.
    pub selector_text: String,
    /// What is tested.
    pub test: Test,
    /// The whole comparison as written.
    pub text: String,
}

/// A JSON pattern's condition.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// One comparison.
    Cmp(Comparison),
}

/// A condition inside a space-delimited pattern: `name op literal`, combined with && and ||.
#[derive(Debug, Clone)]
pub enum FieldExpr {
    /// Both.
    And(Box<FieldExpr>, Box<FieldExpr>),
    /// Either.
    Or(Box<FieldExpr>, Box<FieldExpr>),
    /// The named field compared with a literal.
    Cmp {
        /// The field's name.
        field: String,
        /// The operator.
        op: Op,
        /// The literal.
        literal: Literal,
    },
}

impl FieldExpr {
    fn regex_count(&self) -> usize {
        match self {
            FieldExpr::And(a, b) | FieldExpr::Or(a, b) => a.regex_count() + b.regex_count(),
            FieldExpr::Cmp { literal, .. } => usize::from(matches!(literal, Literal::Regex(_))),
        }
    }
}

/// One field of a space-delimited pattern.
#[derive(Debug, Clone)]
pub enum Field {
    /// `...`: any number of fields.
    Ellipsis,
    /// A named field, with the condition on it, if any.
    Named {
        /// The field's name in the pattern.
        name: String,
        /// The condition on it, if any.
        cond: Option<FieldExpr>,
    },
}

/// A space-delimited pattern.
#[derive(Debug, Clone)]
pub struct Delimited {
    /// Its fields, in order.
    pub fields: Vec<Field>,
}

// ---------------------------------------------------------------- parsing

struct Cursor<'a> {
    chars: Vec<char>,
    pos: usize,
    _src: &'a str,
}

impl<'a> Cursor<'a> {
    fn new(src: &'a str) -> Self {
        Cursor { chars: src.chars().collect(), pos: 0, _src: src }
    }
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn peek2(&self) -> Option<char> {
        self.chars.get(self.pos + 1).copied()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }
    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    fn col(&self) -> usize {
        self.pos + 1
    }
    fn err<T>(&self, message: impl Into<String>) -> Result<T, PatternError> {
        Err(PatternError { column: self.col(), message: message.into() })
    }
    fn eat(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.chars.len() >= self.pos + n && self.chars[self.pos..self.pos + n].iter().copied().eq(s.chars()) {
            self.pos += n;
            true
        } else {
            false
        }
    }
    fn quoted(&mut self) -> Result<String, PatternError> {
        let start = self.col();
        self.bump(); // opening quote
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(PatternError { column: start, message: "unterminated quoted string".into() }),
                Some('\\') => match self.bump() {
                    Some(c) => s.push(c),
                    None => return Err(PatternError { column: start, message: "unterminated quoted string".into() }),
                },
                Some('"') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }
    fn regex(&mut self) -> Result<Regex, PatternError> {
        let start = self.col();
        self.bump(); // opening %
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(PatternError { column: start, message: "unterminated regular expression (missing closing %)".into() }),
                Some('%') => break,
                Some(c) => s.push(c),
            }
        }
        if s.is_empty() {
            return Err(PatternError { column: start, message: "empty regular expression".into() });
        }
        // CloudWatch Logs refuses parentheses (no sub-patterns) in its regex dialect.
        if s.contains('(') || s.contains(')') {
            return Err(PatternError { column: start, message: "CloudWatch Logs regular expressions cannot use ( or )".into() });
        }
        // The documented character set: letters, digits, `:_#=@/;,-`, the operators
        // `^$?[]{}|\*+.` and spaces; no multi-byte characters (`\xhh` reaches the others).
        if let Some(bad) = s.chars().find(|ch| !(ch.is_ascii_alphanumeric() || ":_#=@/;,-^$?[]{}|\\*+. ".contains(*ch))) {
            return Err(PatternError {
                column: start,
                message: format!("CloudWatch Logs regular expressions cannot use {bad:?}; write it as \\x{:02X}", bad as u32),
            });
        }
        Regex::new(&s).map_err(|e| PatternError { column: start, message: format!("invalid regular expression: {e}") })
    }
    fn word(&mut self, stop: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || stop(c) {
                break;
            }
            s.push(c);
            self.pos += 1;
        }
        s
    }
}

fn number(s: &str) -> Option<f64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    if t.is_empty() || !t.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '.') {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

impl Pattern {
    /// Parses a pattern as CloudWatch Logs does, refusing what AWS refuses (quotas included).
    pub fn parse(src: &str) -> Result<Pattern, PatternError> {
        let lead = src.len() - src.trim_start().len();
        let body = src.trim();
        let shift = |mut e: PatternError| {
            e.column += src[..lead].chars().count();
            e
        };
        if body.is_empty() {
            return Ok(Pattern::All);
        }
        match body.chars().next() {
            Some('{') => parse_json(body).map(Pattern::Json).map_err(shift),
            Some('[') => parse_delimited(body).map(Pattern::Delimited).map_err(shift),
            _ => parse_terms(body).map(Pattern::Terms).map_err(shift),
        }
    }

    /// Whether the pattern matches the event.
    pub fn matches(&self, ev: &Event<'_>) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms(t) => {
                let any = t.effective_any();
                t.all.iter().all(|x| x.matches(ev.message))
                    && (any.is_empty() || any.iter().any(|x| x.matches(ev.message)))
                    && !t.none.iter().any(|x| x.matches(ev.message))
            }
            Pattern::Json(e) => ev.json.is_some_and(|j| eval(e, j)),
            Pattern::Delimited(d) => d.bind(ev.message).is_some(),
        }
    }

    /// Why the event does not match: the conditions it fails, or None when it matches.
    pub fn explain(&self, ev: &Event<'_>) -> Option<Explanation> {
        if self.matches(ev) {
            return None;
        }
        let mut ex = Explanation::default();
        match self {
            Pattern::All => {}
            Pattern::Terms(t) => {
                for x in &t.all {
                    if x.matches(ev.message) {
                        ex.passed.push(format!("contains {x}"));
                    } else {
                        ex.failed.push(format!("does not contain {x}"));
                    }
                }
                let any = t.effective_any();
                if !any.is_empty() && !any.iter().any(|x| x.matches(ev.message)) {
                    ex.failed.push(format!("contains none of {}", any.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")));
                }
                for x in &t.none {
                    if x.matches(ev.message) {
                        ex.failed.push(format!("contains the excluded term {x}"));
                    }
                }
            }
            Pattern::Json(e) => match ev.json {
                None => ex.failed.push("the event is not JSON".into()),
                Some(j) => leaves(e, j, &mut ex),
            },
            Pattern::Delimited(_) => ex.failed.push("the fields do not match the space-delimited pattern".into()),
        }
        Some(ex)
    }

    /// The metric value a filter with `metric_value` publishes for a matching event: a number,
    /// or the number found at `$.field` (JSON) / `$name` / `$N` (space-delimited).
    pub fn metric_value(&self, metric_value: &str, ev: &Event<'_>) -> Option<f64> {
        if let Ok(v) = metric_value.parse::<f64>() {
            return Some(v);
        }
        self.field_text(metric_value, ev)?.parse().ok()
    }

    /// The text of a field reference: `$.a.b` in a JSON event, `$name` or `$N` (1-based) in a
    /// space-delimited one. Used for metric values and dimension values.
    pub fn field_text(&self, reference: &str, ev: &Event<'_>) -> Option<String> {
        if let Some(path) = reference.strip_prefix("$.") {
            let sel: Vec<Step> = path.split('.').map(|k| Step::Key(k.to_string())).collect();
            return text_of(resolve(ev.json?, &sel)?).map(|t| t.into_owned());
        }
        let name = reference.strip_prefix('$')?;
        let Pattern::Delimited(d) = self else { return None };
        let bound = d.bind(ev.message)?;
        match name.parse::<usize>() {
            Ok(i) => bound.tokens.get(i.checked_sub(1)?).cloned(),
            Err(_) => bound.named.into_iter().find(|(n, _)| n == name).map(|(_, v)| v),
        }
    }

    /// An event this pattern should match: `base` (a CloudTrail record) with the pattern's
    /// conditions written in, taking the first alternative of each `||`. None for term and
    /// space-delimited patterns, and for conditions no value can be written for (regexes).
    /// `verify` checks that the filter really matches it: a pattern whose conditions contradict
    /// each other matches nothing.
    pub fn example_event(&self, base: &Value) -> Option<Value> {
        fn collect<'e>(e: &'e Expr, out: &mut Vec<&'e Comparison>) {
            match e {
                Expr::And(a, b) => {
                    collect(a, out);
                    collect(b, out);
                }
                Expr::Or(a, _) => collect(a, out),
                Expr::Cmp(c) => out.push(c),
            }
        }
        let Pattern::Json(e) = self else { return None };
        let mut cmps = Vec::new();
        collect(e, &mut cmps);
        if cmps.iter().any(|c| c.selector.contains(&Step::Any)) {
            return None;
        }
        let mut ev = base.clone();
        for c in cmps {
            let value = match &c.test {
                Test::NotExists => {
                    remove(&mut ev, &c.selector);
                    continue;
                }
                Test::IsNull => Value::Null,
                Test::IsBool(b) => Value::Bool(*b),
                Test::Compare(_, Literal::Regex(_)) => return None,
                // `!=` needs the field to exist with another value.
                Test::Compare(Op::Ne, lit) => {
                    if resolve(&ev, &c.selector).is_some_and(|v| compare_value(v, Op::Ne, lit)) {
                        continue;
                    }
                    match lit {
                        Literal::Text { number: Some(n), .. } => serde_json::Number::from_f64(n + 1.0).map(Value::Number)?,
                        _ => Value::String("secmon-example-value".into()),
                    }
                }
                Test::Compare(op, Literal::Text { text, number }) => match (op, number) {
                    (Op::Eq, Some(n)) => serde_json::Number::from_f64(*n).map(Value::Number)?,
                    (Op::Eq, None) => Value::String(text.replace('*', "")),
                    (Op::Lt, Some(n)) => serde_json::Number::from_f64(n - 1.0).map(Value::Number)?,
                    (Op::Gt, Some(n)) => serde_json::Number::from_f64(n + 1.0).map(Value::Number)?,
                    (_, Some(n)) => serde_json::Number::from_f64(*n).map(Value::Number)?,
                    _ => return None,
                },
            };
            set(&mut ev, &c.selector, value);
        }
        Some(ev)
    }

    /// Whether the pattern holds a regular expression (`%...%`): CloudWatch Logs allows
    /// [`MAX_REGEX_FILTERS_PER_LOG_GROUP`] such filters per log group.
    pub fn uses_regex(&self) -> bool {
        match self {
            Pattern::All => false,
            Pattern::Terms(t) => t.all.iter().chain(&t.any).chain(&t.none).any(|t| matches!(t, Term::Regex(_))),
            Pattern::Json(_) => self.comparisons().iter().any(|c| matches!(c.test, Test::Compare(_, Literal::Regex(_)))),
            Pattern::Delimited(d) => d.fields.iter().any(|f| matches!(f, Field::Named { cond: Some(c), .. } if c.regex_count() > 0)),
        }
    }

    /// Every JSON comparison of the pattern (for lint).
    pub fn comparisons(&self) -> Vec<&Comparison> {
        let mut out = Vec::new();
        if let Pattern::Json(e) = self {
            comparisons_of(e, &mut out);
        }
        out
    }
}

/// Conditions an event passed and failed, for "near miss" reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// The conditions the event passed.
    pub passed: Vec<String>,
    /// The conditions it failed, with what it held.
    pub failed: Vec<String>,
}

impl Explanation {
    /// A near miss passes some condition and fails few.
    pub fn is_near_miss(&self) -> bool {
        !self.passed.is_empty() && self.failed.len() <= self.passed.len().max(1)
    }
}

fn parse_terms(src: &str) -> Result<Terms, PatternError> {
    let mut c = Cursor::new(src);
    let mut t = Terms::default();
    loop {
        c.ws();
        let Some(ch) = c.peek() else { break };
        let (bucket, prefix) = match ch {
            '?' => (1, true),
            '-' if c.peek2().is_some_and(|n| n == '"' || n == '%' || n.is_whitespace() || n.is_alphanumeric() || n == '_') => (2, true),
            _ => (0, false),
        };
        if prefix {
            c.bump();
            c.ws();
        }
        let term = match c.peek() {
            Some('"') => Term::Text(c.quoted()?),
            Some('%') => Term::Regex(c.regex()?),
            Some(_) => {
                let w = c.word(|ch| ch == '"');
                if w.is_empty() {
                    return c.err("expected a term");
                }
                Term::Text(w)
            }
            None => return c.err("a term must follow ? or -"),
        };
        match bucket {
            1 => t.any.push(term),
            2 => t.none.push(term),
            _ => t.all.push(term),
        }
    }
    Ok(t)
}

fn parse_json(src: &str) -> Result<Expr, PatternError> {
    let mut c = Cursor::new(src);
    c.bump(); // {
    let e = json_or(&mut c)?;
    c.ws();
    if !c.eat("}") {
        return c.err("expected `}` to close the JSON pattern, or `&&` / `||`");
    }
    c.ws();
    if c.peek().is_some() {
        return c.err("unexpected text after the closing `}`");
    }
    let mut cmps = Vec::new();
    comparisons_of(&e, &mut cmps);
    let wildcards: usize = cmps.iter().map(|c| c.selector.iter().filter(|s| **s == Step::Any).count()).sum();
    if wildcards > MAX_WILDCARDS_PER_PATTERN {
        return Err(PatternError {
            column: 1,
            message: format!("{wildcards} wildcard selectors: CloudWatch Logs allows at most {MAX_WILDCARDS_PER_PATTERN} per pattern"),
        });
    }
    let regexes = cmps.iter().filter(|c| matches!(c.test, Test::Compare(_, Literal::Regex(_)))).count();
    too_many_regexes(regexes)?;
    Ok(e)
}

fn too_many_regexes(n: usize) -> Result<(), PatternError> {
    if n > MAX_REGEXES_PER_PATTERN {
        return Err(PatternError {
            column: 1,
            message: format!(
                "{n} regular expressions: CloudWatch Logs allows at most {MAX_REGEXES_PER_PATTERN} in a JSON or space-delimited pattern"
            ),
        });
    }
    Ok(())
}

fn comparisons_of<'a>(e: &'a Expr, out: &mut Vec<&'a Comparison>) {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            comparisons_of(a, out);
            comparisons_of(b, out);
        }
        Expr::Cmp(c) => out.push(c),
    }
}

fn json_or(c: &mut Cursor) -> Result<Expr, PatternError> {
    binary(c, "||", json_and, Expr::Or)
}

fn json_and(c: &mut Cursor) -> Result<Expr, PatternError> {
    binary(c, "&&", json_unary, Expr::And)
}

/// A left-associative chain `operand (op operand)*`.
fn binary(
    c: &mut Cursor,
    op: &str,
    operand: fn(&mut Cursor) -> Result<Expr, PatternError>,
    join: fn(Box<Expr>, Box<Expr>) -> Expr,
) -> Result<Expr, PatternError> {
    let mut left = operand(c)?;
    loop {
        c.ws();
        if !c.eat(op) {
            return Ok(left);
        }
        left = join(Box::new(left), Box::new(operand(c)?));
    }
}

fn json_unary(c: &mut Cursor) -> Result<Expr, PatternError> {
    c.ws();
    if c.eat("(") {
        let e = json_or(c)?;
        c.ws();
        if !c.eat(")") {
            return c.err("expected `)`");
        }
        return Ok(e);
    }
    let start = c.pos;
    let (selector, selector_text) = selector(c)?;
    c.ws();
    let test = if c.peek().is_some_and(|ch| ch.is_ascii_alphabetic()) {
        let kw_col = c.col();
        let w1 = c.word(|ch| !ch.is_ascii_alphabetic());
        c.ws();
        let w2 = c.word(|ch| !ch.is_ascii_alphabetic());
        match (w1.to_ascii_uppercase().as_str(), w2.to_ascii_uppercase().as_str()) {
            ("IS", "NULL") => Test::IsNull,
            ("IS", "TRUE") => Test::IsBool(true),
            ("IS", "FALSE") => Test::IsBool(false),
            ("NOT", "EXISTS") => Test::NotExists,
            _ => {
                return Err(PatternError {
                    column: kw_col,
                    message: format!("expected IS NULL, IS TRUE, IS FALSE or NOT EXISTS, found `{w1} {w2}`"),
                })
            }
        }
    } else {
        let op = operator(c)?;
        c.ws();
        let lit = literal(c, |ch| matches!(ch, ')' | '}' | '&' | '|'))?;
        if matches!(op, Op::Lt | Op::Gt | Op::Le | Op::Ge) {
            if let Literal::Text { number: None, text } = &lit {
                return c.err(format!("`{}` compares numbers, but `{text}` is not a number", op.as_str()));
            }
        }
        Test::Compare(op, lit)
    };
    let text: String = c.chars[start..c.pos].iter().collect::<String>().trim().to_string();
    Ok(Expr::Cmp(Comparison { selector, selector_text, test, text }))
}

fn selector(c: &mut Cursor) -> Result<(Vec<Step>, String), PatternError> {
    let start = c.pos;
    let col = c.col();
    if !c.eat("$") {
        return c.err("expected a selector starting with `$` (like $.eventName)");
    }
    let mut steps = Vec::new();
    loop {
        match c.peek() {
            // `$.['cluster.name']`, as AWS documents it, is the bracket form after a dot.
            Some('.') if c.peek2() == Some('[') => {
                c.bump();
            }
            Some('.') => {
                c.bump();
                if c.eat("*") {
                    steps.push(Step::Any);
                    continue;
                }
                let k = c.word(|ch| !(ch.is_alphanumeric() || ch == '_' || ch == '-' || ch == '@' || ch == ':'));
                if k.is_empty() {
                    return c.err("expected a property name, `*` or `['name']` after `.`");
                }
                steps.push(Step::Key(k));
            }
            Some('[') => {
                c.bump();
                if c.eat("*") {
                    steps.push(Step::Any);
                } else if let Some(q @ ('\'' | '"')) = c.peek() {
                    let key_col = c.col();
                    c.bump();
                    let mut k = String::new();
                    loop {
                        match c.bump() {
                            None => return Err(PatternError { column: key_col, message: "unterminated property name".into() }),
                            Some(ch) if ch == q => break,
                            Some(ch) => k.push(ch),
                        }
                    }
                    if k.is_empty() {
                        return Err(PatternError { column: key_col, message: "empty property name".into() });
                    }
                    steps.push(Step::Key(k));
                } else {
                    let n = c.word(|ch| !ch.is_ascii_digit());
                    let Ok(i) = n.parse::<usize>() else {
                        return c.err("expected an array index like [0], [*] or a quoted property name like ['cluster.name']");
                    };
                    steps.push(Step::Index(i));
                }
                if !c.eat("]") {
                    return c.err("expected `]`");
                }
            }
            _ => break,
        }
    }
    if steps.is_empty() {
        return c.err("a selector needs a property, like $.eventName");
    }
    if steps.iter().filter(|s| **s == Step::Any).count() > MAX_WILDCARDS_PER_SELECTOR {
        return Err(PatternError { column: col, message: "CloudWatch Logs allows one wildcard (`*`) per property selector".into() });
    }
    Ok((steps, c.chars[start..c.pos].iter().collect()))
}

fn operator(c: &mut Cursor) -> Result<Op, PatternError> {
    for (s, op) in [("!=", Op::Ne), ("=!", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("=", Op::Eq), ("<", Op::Lt), (">", Op::Gt)] {
        if c.eat(s) {
            return Ok(op);
        }
    }
    c.err("expected a comparison operator (=, !=, <, >, <=, >=)")
}

fn literal(c: &mut Cursor, stop: impl Fn(char) -> bool) -> Result<Literal, PatternError> {
    match c.peek() {
        Some('"') => {
            let text = c.quoted()?;
            Ok(Literal::Text { number: None, text })
        }
        Some('%') => Ok(Literal::Regex(c.regex()?)),
        Some(_) => {
            let text = c.word(|ch| stop(ch) || ch == '"');
            if text.is_empty() {
                return c.err("expected a value");
            }
            Ok(Literal::Text { number: number(&text), text })
        }
        None => c.err("expected a value"),
    }
}

fn parse_delimited(src: &str) -> Result<Delimited, PatternError> {
    let mut c = Cursor::new(src);
    c.bump(); // [
    let mut fields = Vec::new();
    loop {
        c.ws();
        if c.eat("]") {
            break;
        }
        if c.peek().is_none() {
            return c.err("expected `]` to close the space-delimited pattern");
        }
        if c.peek() == Some(',') {
            return c.err("expected a field name or `...` before `,`");
        }
        if c.eat("...") || c.eat("…") {
            fields.push(Field::Ellipsis);
        } else {
            let name = c.word(|ch| !(ch.is_alphanumeric() || ch == '_' || ch == '-' || ch == '$'));
            if name.is_empty() {
                return c.err("expected a field name or `...`");
            }
            c.ws();
            let cond = if matches!(c.peek(), Some(',') | Some(']')) {
                None
            } else {
                let op = operator(&mut c)?;
                c.ws();
                let first = FieldExpr::Cmp { field: name.clone(), op, literal: literal(&mut c, |ch| matches!(ch, ',' | ']' | '&' | '|'))? };
                Some(field_rest(&mut c, first)?)
            };
            fields.push(Field::Named { name, cond });
        }
        c.ws();
        if c.eat(",") {
            c.ws();
            // A trailing comma stands for one more, unnamed field (`[..., status_code=4*,]`).
            if c.eat("]") {
                fields.push(Field::Named { name: String::new(), cond: None });
                break;
            }
            continue;
        }
        if c.eat("]") {
            break;
        }
        return c.err("expected `,` or `]`");
    }
    c.ws();
    if c.peek().is_some() {
        return c.err("unexpected text after the closing `]`");
    }
    let regexes = fields
        .iter()
        .map(|f| match f {
            Field::Named { cond: Some(c), .. } => c.regex_count(),
            _ => 0,
        })
        .sum();
    too_many_regexes(regexes)?;
    Ok(Delimited { fields })
}

/// `a = 1 && b > 2 || c = x`: && binds tighter than ||.
fn field_rest(c: &mut Cursor, first: FieldExpr) -> Result<FieldExpr, PatternError> {
    let mut or_terms = vec![first];
    loop {
        c.ws();
        let and = if c.eat("&&") {
            true
        } else if c.eat("||") {
            false
        } else {
            break;
        };
        c.ws();
        let name = c.word(|ch| !(ch.is_alphanumeric() || ch == '_' || ch == '-' || ch == '$'));
        if name.is_empty() {
            return c.err("expected a field name");
        }
        c.ws();
        let op = operator(c)?;
        c.ws();
        let cmp = FieldExpr::Cmp { field: name, op, literal: literal(c, |ch| matches!(ch, ',' | ']' | '&' | '|'))? };
        if and {
            let last = or_terms.pop().expect("non-empty");
            or_terms.push(FieldExpr::And(Box::new(last), Box::new(cmp)));
        } else {
            or_terms.push(cmp);
        }
    }
    let mut it = or_terms.into_iter();
    let mut e = it.next().expect("non-empty");
    for t in it {
        e = FieldExpr::Or(Box::new(e), Box::new(t));
    }
    Ok(e)
}

// ---------------------------------------------------------------- evaluation

fn set(root: &mut Value, sel: &[Step], value: Value) {
    let Some((first, rest)) = sel.split_first() else {
        *root = value;
        return;
    };
    let child = match first {
        Step::Key(k) => {
            if !root.is_object() {
                *root = Value::Object(Default::default());
            }
            root.as_object_mut().expect("object").entry(k.clone()).or_insert(Value::Null)
        }
        Step::Index(i) => {
            if !root.is_array() {
                *root = Value::Array(Vec::new());
            }
            let a = root.as_array_mut().expect("array");
            if a.len() <= *i {
                a.resize(*i + 1, Value::Null);
            }
            &mut a[*i]
        }
        // example_event never writes through a wildcard.
        Step::Any => return,
    };
    set(child, rest, value);
}

fn remove(root: &mut Value, sel: &[Step]) {
    let Some((last, parents)) = sel.split_last() else { return };
    let mut v = root;
    for s in parents {
        v = match (s, v) {
            (Step::Key(k), Value::Object(o)) => match o.get_mut(k) {
                Some(x) => x,
                None => return,
            },
            (Step::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
    }
    if let (Step::Key(k), Value::Object(o)) = (last, v) {
        o.remove(k);
    }
}

/// The one value a selector without wildcards reaches.
fn resolve<'v>(root: &'v Value, sel: &[Step]) -> Option<&'v Value> {
    let mut v = root;
    for s in sel {
        v = match (s, v) {
            (Step::Key(k), Value::Object(o)) => o.get(k)?,
            (Step::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Whether `f` holds for some value the selector reaches (every one a wildcard reaches).
fn any_reached<'v>(root: &'v Value, sel: &[Step], f: &mut dyn FnMut(&'v Value) -> bool) -> bool {
    let Some((first, rest)) = sel.split_first() else {
        return f(root);
    };
    match (first, root) {
        (Step::Key(k), Value::Object(o)) => o.get(k).is_some_and(|v| any_reached(v, rest, f)),
        (Step::Index(i), Value::Array(a)) => a.get(*i).is_some_and(|v| any_reached(v, rest, f)),
        (Step::Any, Value::Object(o)) => o.values().any(|v| any_reached(v, rest, f)),
        (Step::Any, Value::Array(a)) => a.iter().any(|v| any_reached(v, rest, f)),
        _ => false,
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, s: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == s;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

fn text_of(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::String(s) => Some(s.as_str().into()),
        Value::Number(n) => Some(n.to_string().into()),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
        _ => None,
    }
}

fn compare_value(v: &Value, op: Op, lit: &Literal) -> bool {
    if matches!(v, Value::Array(_) | Value::Object(_) | Value::Null) {
        return false;
    }
    match lit {
        Literal::Regex(r) => {
            let hit = text_of(v).is_some_and(|t| r.is_match(&t));
            match op {
                Op::Eq => hit,
                Op::Ne => !hit,
                _ => false,
            }
        }
        Literal::Text { text, number } => {
            if let (Value::Number(n), Some(want)) = (v, number) {
                let got = n.as_f64().unwrap_or(f64::NAN);
                return match op {
                    Op::Eq => got == *want,
                    Op::Ne => got != *want,
                    Op::Lt => got < *want,
                    Op::Gt => got > *want,
                    Op::Le => got <= *want,
                    Op::Ge => got >= *want,
                };
            }
            let Some(t) = text_of(v) else { return false };
            match op {
                Op::Eq => glob(text, &t),
                Op::Ne => !glob(text, &t),
                _ => false,
            }
        }
    }
}

/// A comparison holds when it holds for some value the selector reaches; `NOT EXISTS` when it
/// reaches none.
fn eval_cmp(c: &Comparison, json: &Value) -> bool {
    let sel = &c.selector;
    match &c.test {
        Test::NotExists => !any_reached(json, sel, &mut |_| true),
        Test::IsNull => any_reached(json, sel, &mut Value::is_null),
        Test::IsBool(b) => any_reached(json, sel, &mut |v| v.as_bool() == Some(*b)),
        Test::Compare(op, lit) => any_reached(json, sel, &mut |v| compare_value(v, *op, lit)),
    }
}

fn eval(e: &Expr, json: &Value) -> bool {
    match e {
        Expr::And(a, b) => eval(a, json) && eval(b, json),
        Expr::Or(a, b) => eval(a, json) || eval(b, json),
        Expr::Cmp(c) => eval_cmp(c, json),
    }
}

fn leaves(e: &Expr, json: &Value, ex: &mut Explanation) {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            leaves(a, json, ex);
            leaves(b, json, ex);
        }
        Expr::Cmp(c) => {
            if eval_cmp(c, json) {
                ex.passed.push(c.text.clone());
            } else {
                let actual = match resolve(json, &c.selector) {
                    None if c.selector.contains(&Step::Any) => "reaches no value that matches".to_string(),
                    None => "does not exist".to_string(),
                    Some(v @ (Value::Array(_) | Value::Object(_))) => {
                        format!("is {} (not a value)", if v.is_array() { "an array" } else { "an object" })
                    }
                    Some(v) => format!("is {v}"),
                };
                ex.failed.push(format!("{}: {} {actual}", c.text, c.selector_text));
            }
        }
    }
}

/// A message and its space-delimited fields.
struct Line<'a> {
    message: &'a str,
    spans: &'a [(usize, String)],
    tokens: &'a [String],
}

/// A message split into space-delimited fields, bound to a pattern's names.
pub struct Bound {
    /// The message's fields.
    pub tokens: Vec<String>,
    /// The pattern's names, each with its field.
    pub named: Vec<(String, String)>,
}

/// Splits on spaces; `"..."` and `[...]` are one field each, without their delimiters.
pub fn split_fields(s: &str) -> Vec<String> {
    split_spans(s).into_iter().map(|(_, f)| f).collect()
}

/// The fields with the byte offset each starts at.
fn split_spans(s: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let close = match c {
            '"' => Some('"'),
            '[' => Some(']'),
            _ => None,
        };
        let mut f = String::new();
        if let Some(close) = close {
            chars.next();
            for (_, ch) in chars.by_ref() {
                if ch == close {
                    break;
                }
                f.push(ch);
            }
        } else {
            while let Some(&(_, ch)) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                f.push(ch);
                chars.next();
            }
        }
        out.push((start, f));
    }
    out
}

impl Delimited {
    /// Binds the message's fields to the pattern, trying every split the ellipses allow. When
    /// the event has more fields than the pattern, the pattern's last field takes the rest of
    /// the message, as AWS documents (`[w1=ERROR, w2]` matches `ERROR 09/25/2014 Failed ...`).
    pub fn bind(&self, message: &str) -> Option<Bound> {
        let spans = split_spans(message);
        let tokens: Vec<String> = spans.iter().map(|(_, f)| f.clone()).collect();
        let mut named = Vec::new();
        let line = Line { message, spans: &spans, tokens: &tokens };
        if self.assign(&self.fields, &line, 0, &mut named) {
            Some(Bound { tokens, named })
        } else {
            None
        }
    }

    fn assign(&self, fields: &[Field], line: &Line, at: usize, named: &mut Vec<(String, String)>) -> bool {
        let tokens = line.tokens;
        let Some((first, rest)) = fields.split_first() else {
            return at == tokens.len() && self.conditions_hold(named);
        };
        match first {
            Field::Ellipsis => (at..=tokens.len()).any(|skip| {
                let mark = named.len();
                let ok = self.assign(rest, line, skip, named);
                if !ok {
                    named.truncate(mark);
                }
                ok
            }),
            Field::Named { name, .. } => {
                let Some(tok) = tokens.get(at) else {
                    return false;
                };
                let value = if rest.is_empty() && at + 1 < tokens.len() {
                    line.message[line.spans[at].0..].trim_end().to_string()
                } else {
                    tok.clone()
                };
                let next = if rest.is_empty() { tokens.len() } else { at + 1 };
                named.push((name.clone(), value));
                if self.assign(rest, line, next, named) {
                    true
                } else {
                    named.pop();
                    false
                }
            }
        }
    }

    fn conditions_hold(&self, named: &[(String, String)]) -> bool {
        self.fields.iter().all(|f| match f {
            Field::Named { cond: Some(c), .. } => field_eval(c, named),
            _ => true,
        })
    }
}

fn field_eval(e: &FieldExpr, named: &[(String, String)]) -> bool {
    match e {
        FieldExpr::And(a, b) => field_eval(a, named) && field_eval(b, named),
        FieldExpr::Or(a, b) => field_eval(a, named) || field_eval(b, named),
        FieldExpr::Cmp { field, op, literal } => {
            let Some((_, v)) = named.iter().find(|(n, _)| n == field) else {
                return false;
            };
            let value = match number(v) {
                Some(n) if matches!(literal, Literal::Text { number: Some(_), .. }) => {
                    serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::String(v.clone()))
                }
                _ => Value::String(v.clone()),
            };
            compare_value(&value, *op, literal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_wildcards() {
        assert!(glob("*Event", "PutEvent") && glob("Event*", "EventName") && glob("123.123.*", "123.123.4.5"));
        assert!(!glob("*Event", "EventPut") && glob("*", "") && glob("a*b*c", "aXbYc") && !glob("a*b*c", "aXcYb"));
    }

    #[test]
    fn syntax_errors_point_at_the_column() {
        let e = Pattern::parse("{ $.eventName = }").unwrap_err();
        assert_eq!(e.column, 17, "{e}");
        let e = Pattern::parse("{ $.a = 1 && }").unwrap_err();
        assert_eq!(e.column, 14, "{e}");
        let e = Pattern::parse("  { eventName = x }").unwrap_err();
        assert_eq!(e.column, 5, "{e}");
        assert!(Pattern::parse("{ $.a = \"x }").unwrap_err().message.contains("unterminated"));
        assert!(Pattern::parse("{ $.a > abc }").unwrap_err().message.contains("not a number"));
    }
}
