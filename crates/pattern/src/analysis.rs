//! Looking inside a pattern without an event: which fields each alternative tests and how,
//! whether a test can hold for the values a schema allows, whether two tests can hold at
//! once, and a short form for people (`total_cents > 100000`, `country not in [US, CA]`).
//!
//! Tools use it to reason about rules offline (a rule no event of a catalog can match, a
//! filter on a field the schema lacks, two rules that overlap) and to label rule edges.
//!
//! ```
//! use eventrail_pattern::{Domain, Pattern};
//! let pattern = Pattern::parse(r#"{"detail": {"$or": [
//!     {"total": [{"numeric": [">", 1000]}]},
//!     {"country": [{"anything-but": ["US", "CA"]}]}]}}"#).unwrap();
//! let alternatives = pattern.alternatives();
//! assert_eq!(alternatives.len(), 2);
//! assert_eq!(alternatives[0].to_string(), "detail.total > 1000");
//! assert_eq!(alternatives[1].to_string(), "detail.country not in [US, CA]");
//! let total = &alternatives[0].fields[0];
//! assert!(!total.admits(&[Domain::String]));
//! assert!(!total.admits(&[Domain::Number { minimum: Some(0.0), maximum: Some(500.0) }]));
//! assert!(total.admits(&[Domain::Number { minimum: Some(0.0), maximum: None }]));
//! ```

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use crate::anything_but::AnythingBut;
use crate::exact::Literal;
use crate::matcher::Matcher;
use crate::pattern::Pattern;
use crate::value::LeafValue;

/// How many listed values a short form shows before `…`.
const SHOWN_VALUES: usize = 3;

/// One alternative of a pattern (`$or` expands a pattern into several): every field test
/// must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    /// The field tests, sorted by path.
    pub fields: Vec<FieldTest>,
}

/// The test of one field: the field's value must satisfy one of the conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldTest {
    /// Dotted path of the field in the event (`detail.data.order.total_cents`).
    pub path: String,
    /// The match list; one condition is enough.
    pub conditions: Vec<Condition>,
}

/// One condition of a match list (an exact value, `prefix`, `numeric`, `anything-but`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition(pub(crate) Matcher);

/// What a schema says a leaf field may hold; a field may allow several (`["string", "null"]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// Only these values (`enum` or `const`).
    Values(Vec<Value>),
    /// Any string.
    String,
    /// A number within these inclusive bounds, when given.
    Number {
        /// Smallest value allowed.
        minimum: Option<f64>,
        /// Largest value allowed.
        maximum: Option<f64>,
    },
    /// `true` or `false`.
    Boolean,
    /// `null`.
    Null,
    /// Anything (the schema does not say).
    Any,
}

impl Pattern {
    /// The pattern's alternatives, each a conjunction of field tests (one without `$or`).
    pub fn alternatives(&self) -> Vec<Alternative> {
        self.sub_rules()
            .iter()
            .map(|sub_rule| Alternative {
                fields: sub_rule
                    .iter()
                    .map(|field| FieldTest {
                        path: field.path.clone(),
                        conditions: field.matchers.iter().cloned().map(Condition).collect(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The pattern in short form: alternatives joined by `or`, tests by `and`.
    pub fn summary(&self) -> String {
        self.alternatives()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

impl Alternative {
    /// The test of the field at `path`, if this alternative has one.
    pub fn field(&self, path: &str) -> Option<&FieldTest> {
        self.fields.iter().find(|f| f.path == path)
    }

    /// The short form with each path rewritten by `shorten` (e.g. to drop a common prefix).
    pub fn summary_with(&self, shorten: impl Fn(&str) -> String) -> String {
        self.fields
            .iter()
            .map(|f| f.summary(&shorten(&f.path)))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

impl fmt::Display for Alternative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary_with(str::to_owned))
    }
}

impl FieldTest {
    /// Whether the test holds when the field is absent (only `exists: false` does).
    pub fn holds_when_absent(&self) -> bool {
        self.conditions.iter().any(Condition::is_absence)
    }

    /// Whether a present value allowed by one of `domains` can satisfy the test.
    pub fn admits(&self, domains: &[Domain]) -> bool {
        self.conditions
            .iter()
            .any(|c| domains.iter().any(|d| c.admits(d)))
    }

    /// Whether one value allowed by `domains` (or the field's absence, when `may_be_absent`)
    /// can satisfy both tests. Conservative: `true` unless they surely exclude each other.
    pub fn overlaps(&self, other: &FieldTest, domains: &[Domain], may_be_absent: bool) -> bool {
        if may_be_absent && self.holds_when_absent() && other.holds_when_absent() {
            return true;
        }
        self.conditions.iter().any(|a| {
            other
                .conditions
                .iter()
                .any(|b| a.compatible_with(b) && domains.iter().any(|d| a.admits(d) && b.admits(d)))
        })
    }

    /// The short form with the field shown as `field`.
    pub fn summary(&self, field: &str) -> String {
        let exact: Option<Vec<&Literal>> = self
            .conditions
            .iter()
            .map(|c| match &c.0 {
                Matcher::Exact(l) => Some(l),
                _ => None,
            })
            .collect();
        match exact {
            Some(values) if values.len() > 1 => {
                format!("{field} in {}", list(values.into_iter().map(literal_text)))
            }
            _ => self
                .conditions
                .iter()
                .map(|c| format!("{field} {c}"))
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

impl fmt::Display for FieldTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary(&self.path))
    }
}

fn leaf(value: &Value) -> Option<LeafValue<'_>> {
    Some(match value {
        Value::String(s) => LeafValue::Str(Cow::Borrowed(s)),
        Value::Number(n) => LeafValue::Num(n.as_f64()?),
        Value::Bool(b) => LeafValue::Bool(*b),
        Value::Null => LeafValue::Null,
        _ => return None,
    })
}

fn literal_leaf(literal: &Literal) -> LeafValue<'_> {
    match literal {
        Literal::Str(s) => LeafValue::Str(Cow::Borrowed(s)),
        Literal::Num(n) => LeafValue::Num(*n),
        Literal::Bool(b) => LeafValue::Bool(*b),
        Literal::Null => LeafValue::Null,
    }
}

fn is_string_only(m: &Matcher) -> bool {
    matches!(
        m,
        Matcher::Prefix(_)
            | Matcher::PrefixIgnoreCase(_)
            | Matcher::Suffix(_)
            | Matcher::SuffixIgnoreCase(_)
            | Matcher::EqualsIgnoreCase(_)
            | Matcher::Wildcard(_)
            | Matcher::Cidr(_)
    )
}

impl Condition {
    /// `exists: false`: holds only when the field is absent.
    pub fn is_absence(&self) -> bool {
        matches!(self.0, Matcher::Exists(false))
    }

    /// Whether a present value satisfies the condition (an array: any of its elements).
    pub fn matches_value(&self, value: &Value) -> bool {
        match value {
            Value::Array(items) => items.iter().any(|i| self.matches_value(i)),
            other => leaf(other).is_some_and(|l| self.0.matches(&l)),
        }
    }

    /// Whether some present value allowed by `domain` satisfies the condition.
    pub fn admits(&self, domain: &Domain) -> bool {
        let m = &self.0;
        match domain {
            Domain::Any => !self.is_absence(),
            Domain::Values(values) => values.iter().any(|v| self.matches_value(v)),
            Domain::String => match m {
                Matcher::Exact(l) => matches!(l, Literal::Str(_)),
                Matcher::Numeric(_) | Matcher::Exists(false) => false,
                _ => true,
            },
            Domain::Number { minimum, maximum } => match m {
                Matcher::Exact(Literal::Num(n)) => {
                    minimum.is_none_or(|min| *n >= min) && maximum.is_none_or(|max| *n <= max)
                }
                Matcher::Exact(_) | Matcher::Exists(false) => false,
                Matcher::Numeric(range) => range.meets_interval(*minimum, *maximum),
                other => !is_string_only(other),
            },
            Domain::Boolean | Domain::Null => {
                let sample = if *domain == Domain::Null {
                    vec![LeafValue::Null]
                } else {
                    vec![LeafValue::Bool(true), LeafValue::Bool(false)]
                };
                sample.iter().any(|l| m.matches(l))
            }
        }
    }

    /// Whether one value can satisfy both conditions. Conservative: `true` unless they
    /// surely exclude each other (different exact values, disjoint ranges, a number against
    /// a string test, unrelated prefixes, ...).
    pub fn compatible_with(&self, other: &Condition) -> bool {
        let (a, b) = (&self.0, &other.0);
        match (a, b) {
            (Matcher::Exists(false), Matcher::Exists(false)) => true,
            (Matcher::Exists(false), _) | (_, Matcher::Exists(false)) => false,
            (Matcher::Exact(x), _) => b.matches(&literal_leaf(x)),
            (_, Matcher::Exact(y)) => a.matches(&literal_leaf(y)),
            (Matcher::Numeric(x), Matcher::Numeric(y)) => x.meets(y),
            (Matcher::Numeric(_), other) | (other, Matcher::Numeric(_)) => !is_string_only(other),
            (Matcher::Prefix(x), Matcher::Prefix(y)) => x.starts_with(y) || y.starts_with(x),
            (Matcher::Suffix(x), Matcher::Suffix(y)) => x.ends_with(y) || y.ends_with(x),
            _ => true,
        }
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn string_text(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':'));
    if plain {
        s.to_owned()
    } else {
        Value::String(s.to_owned()).to_string()
    }
}

fn literal_text(l: &Literal) -> String {
    match l {
        Literal::Str(s) => string_text(s),
        Literal::Num(n) => number_text(*n),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => "null".to_owned(),
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let mut shown: Vec<String> = items.iter().take(SHOWN_VALUES).cloned().collect();
    if items.len() > SHOWN_VALUES {
        shown.push("…".to_owned());
    }
    format!("[{}]", shown.join(", "))
}

fn strings(items: &[String]) -> String {
    list(items.iter().map(|s| string_text(s)))
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match &self.0 {
            Matcher::Exact(l) => format!("= {}", literal_text(l)),
            Matcher::Prefix(p) => format!("starts with {}", string_text(p)),
            Matcher::PrefixIgnoreCase(p) => format!("starts with {} (any case)", string_text(p)),
            Matcher::Suffix(s) => format!("ends with {}", string_text(s)),
            Matcher::SuffixIgnoreCase(s) => format!("ends with {} (any case)", string_text(s)),
            Matcher::EqualsIgnoreCase(s) => format!("= {} (any case)", string_text(s)),
            Matcher::Wildcard(w) => format!("like {}", string_text(&w.display())),
            Matcher::AnythingBut(AnythingBut::Values(values)) if values.len() == 1 => {
                format!("!= {}", literal_text(&values[0]))
            }
            Matcher::AnythingBut(AnythingBut::Values(values)) => {
                format!("not in {}", list(values.iter().map(literal_text)))
            }
            Matcher::AnythingBut(AnythingBut::Prefixes(p)) => {
                format!("not starting with {}", strings(p))
            }
            Matcher::AnythingBut(AnythingBut::Suffixes(s)) => {
                format!("not ending with {}", strings(s))
            }
            Matcher::AnythingBut(AnythingBut::IgnoreCase(s)) => {
                format!("not in {} (any case)", strings(s))
            }
            Matcher::AnythingBut(AnythingBut::Wildcards(w)) => {
                let shown: Vec<String> = w.iter().map(|w| w.display()).collect();
                format!("not like {}", strings(&shown))
            }
            Matcher::Numeric(range) => match (range.lower, range.upper) {
                (Some((low, true)), Some((high, true))) if low == high => {
                    format!("= {}", number_text(low))
                }
                (Some((low, li)), Some((high, hi))) => format!(
                    "in {}{}, {}{}",
                    if li { "[" } else { "(" },
                    number_text(low),
                    number_text(high),
                    if hi { "]" } else { ")" }
                ),
                (Some((low, li)), None) => {
                    format!("{} {}", if li { ">=" } else { ">" }, number_text(low))
                }
                (None, Some((high, hi))) => {
                    format!("{} {}", if hi { "<=" } else { "<" }, number_text(high))
                }
                (None, None) => "is a number".to_owned(),
            },
            Matcher::Cidr(c) => format!("in {}", c.as_str()),
            Matcher::Exists(true) => "exists".to_owned(),
            Matcher::Exists(false) => "is absent".to_owned(),
        };
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alternatives(pattern: Value) -> Vec<Alternative> {
        Pattern::from_value(&pattern).unwrap().alternatives()
    }

    fn test_of(condition: Value) -> FieldTest {
        alternatives(json!({ "f": condition }))
            .remove(0)
            .fields
            .remove(0)
    }

    #[test]
    fn short_forms() {
        let summary = |p: Value| Pattern::from_value(&p).unwrap().summary();
        assert_eq!(summary(json!({"a": ["x", "y"]})), "a in [x, y]");
        assert_eq!(summary(json!({"a": ["x"]})), "a = x");
        assert_eq!(
            summary(json!({"a": [{"anything-but": ["US", "CA", "GB", "DE"]}]})),
            "a not in [US, CA, GB, …]"
        );
        assert_eq!(
            summary(json!({"n": [{"numeric": [">", 0, "<=", 5]}], "s": [{"prefix": "OOS-"}]})),
            "n in (0, 5] and s starts with OOS-"
        );
        assert_eq!(
            summary(json!({"a": [{"exists": false}, {"prefix": "x y"}]})),
            "a is absent or a starts with \"x y\""
        );
        assert_eq!(
            summary(json!({"$or": [{"a": [1]}, {"b": [{"cidr": "10.0.0.0/8"}]}]})),
            "a = 1 or b in 10.0.0.0/8"
        );
    }

    #[test]
    fn domains() {
        let big = test_of(json!([{"numeric": [">", 100]}]));
        assert!(big.admits(&[Domain::Number {
            minimum: None,
            maximum: None
        }]));
        assert!(!big.admits(&[Domain::Number {
            minimum: Some(0.0),
            maximum: Some(100.0)
        }]));
        assert!(!big.admits(&[Domain::String, Domain::Null]));
        let code = test_of(json!(["JPY"]));
        assert!(!code.admits(&[Domain::Values(vec![json!("EUR"), json!("USD")])]));
        assert!(code.admits(&[Domain::Values(vec![json!("JPY")])]));
        let not_us = test_of(json!([{"anything-but": "US"}]));
        assert!(!not_us.admits(&[Domain::Values(vec![json!("US")])]));
        assert!(not_us.admits(&[Domain::String]));
        let absent = test_of(json!([{"exists": false}]));
        assert!(absent.holds_when_absent() && !absent.admits(&[Domain::Any]));
        let prefix = test_of(json!([{"prefix": "a"}]));
        assert!(!prefix.admits(&[Domain::Number {
            minimum: None,
            maximum: None
        }]));
        assert!(test_of(json!([true])).admits(&[Domain::Boolean]));
    }

    #[test]
    fn overlaps() {
        let any = [Domain::Any];
        let gt = test_of(json!([{"numeric": [">", 100]}]));
        let lt = test_of(json!([{"numeric": ["<", 50]}]));
        let le = test_of(json!([{"numeric": ["<=", 100]}]));
        let ge = test_of(json!([{"numeric": [">=", 100]}]));
        assert!(!gt.overlaps(&lt, &any, false));
        assert!(!gt.overlaps(&le, &any, false));
        assert!(ge.overlaps(&le, &any, false));
        let x = test_of(json!(["x"]));
        let y = test_of(json!(["y", "z"]));
        let not_x = test_of(json!([{"anything-but": "x"}]));
        assert!(!x.overlaps(&y, &any, false));
        assert!(!x.overlaps(&not_x, &any, false));
        assert!(y.overlaps(&not_x, &any, false));
        let ab = test_of(json!([{"prefix": "ab"}]));
        let a = test_of(json!([{"prefix": "a"}]));
        let b = test_of(json!([{"prefix": "b"}]));
        assert!(ab.overlaps(&a, &any, false) && !ab.overlaps(&b, &any, false));
        let absent = test_of(json!([{"exists": false}]));
        assert!(absent.overlaps(&absent, &any, true));
        assert!(!absent.overlaps(&x, &any, true));
    }
}
