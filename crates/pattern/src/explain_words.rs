//! The words of an explanation: an event's value as JSON text, and what each operator
//! family asks of a value, said positively (`is > 100000`, `starts with "eu-"`) and of
//! a value that fails it (`4000 is not > 100000`, `"US" is one of the excluded values
//! ["US", "CA"]`, `4000 does not start with "4" (prefix compares strings only)`).

use std::borrow::Cow;
use std::fmt;

use crate::affix::Affix;
use crate::anything_but::AnythingBut;
use crate::cidr::{Cidr, address_bits};
use crate::exact::Literal;
use crate::ignore_case::IgnoreCase;
use crate::matcher::Matcher;
use crate::numeric::NumericRange;
use crate::value::LeafValue;

/// How many values of a list (listed in a pattern, or found in an event's arrays) are
/// shown before the count of the others.
const SHOWN: usize = 10;

/// A value found at a field of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum EventValue {
    /// A JSON string.
    String(String),
    /// A JSON number that is exactly a double.
    Number(f64),
    /// A JSON number written more precisely than a double holds
    /// (`18446744073709551615`): EventBridge compares it by its text only, so it equals
    /// no number, lies in no range and is excluded by no `anything-but` number. The
    /// double it is near to (about twelve significant digits kept).
    InexactNumber(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl EventValue {
    pub(crate) fn from_leaf(leaf: &LeafValue<'_>) -> Self {
        match leaf {
            LeafValue::Str(s) => EventValue::String(s.to_string()),
            LeafValue::Num(n) if n.is_nan() => EventValue::InexactNumber(near_double(*n)),
            LeafValue::Num(n) => EventValue::Number(*n),
            LeafValue::Bool(b) => EventValue::Bool(*b),
            LeafValue::Null => EventValue::Null,
        }
    }

    /// The leaf the engine compares (an inexact number: the engine's stand-in, a NaN).
    fn as_leaf(&self) -> LeafValue<'_> {
        match self {
            EventValue::String(s) => LeafValue::Str(Cow::Borrowed(s)),
            EventValue::Number(n) => LeafValue::Num(*n),
            EventValue::InexactNumber(_) => LeafValue::Num(f64::NAN),
            EventValue::Bool(b) => LeafValue::Bool(*b),
            EventValue::Null => LeafValue::Null,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            EventValue::String(_) => "a string",
            EventValue::Number(_) | EventValue::InexactNumber(_) => "a number",
            EventValue::Bool(_) => "a boolean",
            EventValue::Null => "null",
        }
    }
}

/// The double an inexact number's stand-in was made from, to the bits it keeps: the
/// stand-in (`numbers::inexact_marker`) is a NaN whose payload holds the double's bits
/// shifted right by 13.
pub(crate) fn near_double(marker: f64) -> f64 {
    f64::from_bits((marker.to_bits() & ((1u64 << 51) - 1)) << 13)
}

impl fmt::Display for EventValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventValue::String(s) => f.write_str(&quoted(s)),
            EventValue::Number(n) => f.write_str(&number(*n)),
            EventValue::InexactNumber(n) => write!(
                f,
                "about {} (written more precisely than a double)",
                near(*n)
            ),
            EventValue::Bool(b) => write!(f, "{b}"),
            EventValue::Null => f.write_str("null"),
        }
    }
}

/// A string as JSON writes it.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A number as a person writes it: `4000`, `0.5`, `1e300`.
fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else if n != 0.0 && (n.abs() >= 1e15 || n.abs() < 1e-5) {
        format!("{n:e}")
    } else {
        format!("{n}")
    }
}

/// The digits [`near_double`] keeps: `1.84467440737e19`, `1`.
fn near(n: f64) -> String {
    let text = format!("{n:.11e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    if exponent == "0" {
        mantissa.to_owned()
    } else {
        format!("{mantissa}e{exponent}")
    }
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Str(s) => quoted(s),
        Literal::Num(n) if n.is_nan() => format!(
            "about {} (written more precisely than a double)",
            near(near_double(*n))
        ),
        Literal::Num(n) => number(*n),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => "null".to_owned(),
    }
}

/// `[a, b, c]`, with at most [`SHOWN`] items and the count of the others.
pub(crate) fn list(items: impl ExactSizeIterator<Item = String>) -> String {
    let total = items.len();
    let mut shown: Vec<String> = items.take(SHOWN).collect();
    if total > SHOWN {
        shown.push(format!("… {} more", total - SHOWN));
    }
    format!("[{}]", shown.join(", "))
}

/// Values found in an event, as a list.
pub(crate) fn values(found: &[EventValue]) -> String {
    list(found.iter().map(ToString::to_string))
}

fn strings(items: &[String]) -> String {
    list(items.iter().map(|s| quoted(s)))
}

/// A range as its operators: `> 100000`, `>= 0 and < 10`, `= 5`.
fn range(r: &NumericRange) -> String {
    let low = r
        .lower
        .map(|(n, inclusive)| format!("{} {}", if inclusive { ">=" } else { ">" }, number(n)));
    let high = r
        .upper
        .map(|(n, inclusive)| format!("{} {}", if inclusive { "<=" } else { "<" }, number(n)));
    match (low, high) {
        (Some(_), Some(_)) if r.lower.map(|l| l.0) == r.upper.map(|u| u.0) => {
            format!("= {}", number(r.lower.map_or(0.0, |l| l.0)))
        }
        (Some(l), Some(h)) => format!("{l} and {h}"),
        (Some(l), None) => l,
        (None, Some(h)) => h,
        (None, None) => "a number".to_owned(),
    }
}

/// A network, or one address (an exact value that reads as an IP address).
fn network(c: &Cidr) -> String {
    if c.as_str().contains('/') {
        format!("in {}", c.as_str())
    } else {
        format!("the address {}", c.as_str())
    }
}

/// What the matcher asks of a value: `is > 100000`, `starts with "eu-"`.
pub(crate) fn holds(m: &Matcher) -> String {
    match m {
        Matcher::Exact(l) => format!("is {}", literal(l)),
        Matcher::Prefix(p) => format!("starts with {}", quoted(p)),
        Matcher::PrefixIgnoreCase(p) => format!("starts with {} ignoring case", quoted(p)),
        Matcher::Suffix(s) => format!("ends with {}", quoted(s)),
        Matcher::SuffixIgnoreCase(s) => format!("ends with {} ignoring case", quoted(s)),
        Matcher::EqualsIgnoreCase(s) => format!("is {} ignoring case", quoted(s)),
        Matcher::Wildcard(w) => format!("matches the wildcard {}", quoted(&w.display())),
        Matcher::AnythingBut(not) => match not {
            AnythingBut::Values(v) if v.len() == 1 => format!("is not {}", literal(&v[0])),
            AnythingBut::Values(v) => format!("is not one of {}", list(v.iter().map(literal))),
            AnythingBut::Prefixes(p) => format!("starts with none of {}", strings(p)),
            AnythingBut::Suffixes(s) => format!("ends with none of {}", strings(s)),
            AnythingBut::IgnoreCase(s) => {
                format!("is not one of {} ignoring case", strings(s))
            }
            AnythingBut::Wildcards(w) => {
                let shown: Vec<String> = w.iter().map(|w| w.display()).collect();
                format!("matches none of the wildcards {}", strings(&shown))
            }
        },
        Matcher::Numeric(r) => format!("is {}", range(r)),
        Matcher::Cidr(c) => format!("is {}", network(c)),
        Matcher::Exists(true) => "is present".to_owned(),
        Matcher::Exists(false) => "is absent".to_owned(),
    }
}

/// What a list of matchers asks (any one is enough); exact values together as a list.
pub(crate) fn holds_any(matchers: &[&Matcher]) -> String {
    let (exact, others) = split_exact(matchers);
    let mut parts = Vec::new();
    match exact.as_slice() {
        [] => {}
        [one] => parts.push(format!("is {}", literal(one))),
        many => parts.push(format!(
            "is one of {}",
            list(many.iter().map(|l| literal(l)))
        )),
    }
    parts.extend(others.iter().map(|m| holds(m)));
    parts.join(" or ")
}

fn split_exact<'m>(matchers: &[&'m Matcher]) -> (Vec<&'m Literal>, Vec<&'m Matcher>) {
    let mut exact = Vec::new();
    let mut others = Vec::new();
    for m in matchers {
        match m {
            Matcher::Exact(l) => exact.push(l),
            other => others.push(*other),
        }
    }
    (exact, others)
}

/// The operator's name, for a value of the wrong kind.
fn string_operator(m: &Matcher) -> Option<&'static str> {
    Some(match m {
        Matcher::Prefix(_) | Matcher::PrefixIgnoreCase(_) => "prefix",
        Matcher::Suffix(_) | Matcher::SuffixIgnoreCase(_) => "suffix",
        Matcher::EqualsIgnoreCase(_) => "equals-ignore-case",
        Matcher::Wildcard(_) => "wildcard",
        Matcher::Cidr(c) if c.as_str().contains('/') => "cidr",
        _ => return None,
    })
}

/// Why a present value fails the matcher, without the value: `is not > 100000`.
pub(crate) fn fails(m: &Matcher, value: &EventValue) -> String {
    let leaf = value.as_leaf();
    if let Some(operator) = string_operator(m)
        && !matches!(value, EventValue::String(_))
    {
        return format!(
            "{}, as {} is not a string ({operator} compares strings only)",
            negate(m),
            value.kind()
        );
    }
    match (m, value) {
        (Matcher::Numeric(r), EventValue::InexactNumber(_)) => format!(
            "is not {}: a number written more precisely than a double is compared by its text only",
            range(r)
        ),
        (Matcher::Numeric(r), EventValue::Number(_)) => format!("is not {}", range(r)),
        (Matcher::Numeric(r), other) => format!(
            "is not {}, as {} is not a number (numeric compares numbers only)",
            range(r),
            other.kind()
        ),
        (Matcher::Exact(l), _) => {
            let kind = literal_kind(l);
            if kind != value.kind() {
                format!(
                    "is not {} ({} never equals {kind})",
                    literal(l),
                    value.kind()
                )
            } else {
                format!("is not {}", literal(l))
            }
        }
        (Matcher::Cidr(c), EventValue::String(s)) if address_bits(s).is_none() => {
            format!("is not {}, as it is not an IP address", network(c))
        }
        (Matcher::AnythingBut(not), _) => excluded(not, &leaf),
        (Matcher::Exists(false), _) => {
            "is present, but the pattern requires the field to be absent".to_owned()
        }
        (other, _) => negate(other),
    }
}

fn literal_kind(l: &Literal) -> &'static str {
    match l {
        Literal::Str(_) => "a string",
        Literal::Num(_) => "a number",
        Literal::Bool(_) => "a boolean",
        Literal::Null => "null",
    }
}

/// The negation of [`holds`] for the string operators and cidr.
fn negate(m: &Matcher) -> String {
    match m {
        Matcher::Prefix(p) => format!("does not start with {}", quoted(p)),
        Matcher::PrefixIgnoreCase(p) => {
            format!("does not start with {} ignoring case", quoted(p))
        }
        Matcher::Suffix(s) => format!("does not end with {}", quoted(s)),
        Matcher::SuffixIgnoreCase(s) => format!("does not end with {} ignoring case", quoted(s)),
        Matcher::EqualsIgnoreCase(s) => format!("is not {} ignoring case", quoted(s)),
        Matcher::Wildcard(w) => format!("does not match the wildcard {}", quoted(&w.display())),
        Matcher::Cidr(c) => format!("is not {}", network(c)),
        other => format!("does not hold: {}", holds(other)),
    }
}

/// Why `anything-but` excludes the leaf: the exclusion it meets.
fn excluded(not: &AnythingBut, leaf: &LeafValue<'_>) -> String {
    let text = leaf.as_str().unwrap_or_default();
    match not {
        AnythingBut::Values(v) if v.len() == 1 => {
            format!("is excluded (anything-but {})", literal(&v[0]))
        }
        AnythingBut::Values(v) => format!(
            "is one of the excluded values {}",
            list(v.iter().map(literal))
        ),
        AnythingBut::Prefixes(p) => match p.iter().find(|p| Affix::Prefix.matches(p, text)) {
            Some(p) => format!("starts with the excluded prefix {}", quoted(p)),
            None => format!("starts with one of the excluded prefixes {}", strings(p)),
        },
        AnythingBut::Suffixes(s) => match s.iter().find(|s| Affix::Suffix.matches(s, text)) {
            Some(s) => format!("ends with the excluded suffix {}", quoted(s)),
            None => format!("ends with one of the excluded suffixes {}", strings(s)),
        },
        AnythingBut::IgnoreCase(s) => {
            match s.iter().find(|s| IgnoreCase::Equals.matches(s, text)) {
                Some(s) => format!("is the excluded value {} ignoring case", quoted(s)),
                None => format!("is one of the excluded values {} ignoring case", strings(s)),
            }
        }
        AnythingBut::Wildcards(w) => match w.iter().find(|w| w.matches(text)) {
            Some(w) => format!("matches the excluded wildcard {}", quoted(&w.display())),
            None => {
                let shown: Vec<String> = w.iter().map(|w| w.display()).collect();
                format!("matches one of the excluded wildcards {}", strings(&shown))
            }
        },
    }
}

/// Why a present value fails every matcher of a list: `is not one of ["X", "Y"]`,
/// `is not > 5, and does not start with "a"`.
pub(crate) fn fails_all(matchers: &[&Matcher], value: &EventValue) -> String {
    let (exact, others) = split_exact(matchers);
    let mut parts = Vec::new();
    match exact.as_slice() {
        [] => {}
        [one] => parts.push(fails(&Matcher::Exact((*one).clone()), value)),
        many => parts.push(format!(
            "is not one of {}",
            list(many.iter().map(|l| literal(l)))
        )),
    }
    parts.extend(others.iter().map(|m| fails(m, value)));
    parts.join(", and ")
}
