//! Seeded, deterministic generator of event-pattern cases for the event-ruler oracle.
//!
//! ```sh
//! cargo run -p eventrail-pattern --example ruler_cases -- --seed 1 --count 3200 > cases.tsv
//! crates/pattern/oracle/label.sh < cases.tsv > crates/pattern/tests/conformance/ruler-patterns.jsonl
//! ```
//!
//! Each output line is `name<TAB>pattern<TAB>event`, both compact JSON written here byte by
//! byte (so a number keeps its exact text). The same seed gives the same lines on every
//! machine: the generator uses its own small random number generator and no hashing.
//!
//! The cases cover every operator of the pattern language (exact strings, numbers, booleans
//! and null, `prefix`, `suffix`, their `equals-ignore-case` forms, `equals-ignore-case`,
//! `wildcard`, every `anything-but` form, `numeric`, `cidr`, `exists`, `exactly`), nested
//! objects, arrays of scalars and of objects, `$or`, unicode, empty strings and keys, and
//! number edge cases; a share of the patterns is malformed on purpose. Events are mostly
//! derived from their pattern (a value that satisfies a condition, or a near miss) so that
//! matches and misses are both common.
//!
//! `--edges` generates the edge kinds instead (see `edge_case`): numbers at the edge of
//! precision and in exponent form, empty arrays under `exists`, dotted event keys, `$or`
//! with `cidr`, `equals-ignore-case` beyond the Basic Multilingual Plane.

use std::fmt::Write as _;

/// splitmix64: tiny, seedable, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// A JSON value whose numbers keep their text.
#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn s(text: &str) -> J {
    J::Str(text.to_owned())
}

fn n(text: &str) -> J {
    J::Num(text.to_owned())
}

fn obj(key: &str, value: J) -> J {
    J::Obj(vec![(key.to_owned(), value)])
}

fn write_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(out: &mut String, value: &J) {
    match value {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(text) => out.push_str(text),
        J::Str(text) => write_str(out, text),
        J::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        J::Obj(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, key);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

const KEYS: &[&str] = &[
    "a", "b", "c", "detail", "source", "x", "é", "ключ", "", "a b", "$x", "k1", "Key",
];

const STRINGS: &[&str] = &[
    "",
    "a",
    "abc",
    "ABC",
    "Abc",
    "abcdef",
    "xyz",
    "hello world",
    "café",
    "CAFÉ",
    "µ",
    "Μ",
    "ß",
    "SS",
    "ss",
    "ﬀ",
    "FF",
    "İ",
    "i",
    "ǅ",
    "Σ",
    "σ",
    "ς",
    "😀",
    "😀x",
    "𝒜",
    "日本語",
    "a*b",
    "a\\*b",
    "*",
    "**",
    "a.b",
    "null",
    "true",
    "5",
    "5.0",
    "-0",
    "1e2",
    "10.0.0.1",
    "10.0.0.255",
    "010.000.000.001",
    "192.168.1.1",
    "2001:db8::1",
    "2001:DB8::1",
    "FE80::",
    "fe80::",
    "::ffff:10.0.0.1",
    "tab\there",
    "line\nbreak",
    "quote\"d",
];

/// Number texts, many of them edge cases: zeros, exponents, the limits of a double,
/// integers beyond 2^53, decimals that are not exactly a double, account-like ids.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "0.0",
    "1",
    "1.0",
    "1e0",
    "1E2",
    "100",
    "100.0",
    "-1",
    "-1.5",
    "2.5",
    "0.1",
    "0.3",
    "0.30000000000000004",
    "0.10000000000000001",
    "1.0000000000000000001",
    "3.14159",
    "1e-7",
    "5e-324",
    "2.2250738585072014e-308",
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "1.7976931348623158e308",
    "-179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "9007199254740992",
    "9007199254740993",
    "18446744073709551615",
    "123456789012",
    "5000000000",
    "-5000000000",
    "1e9",
    "999999999.999999",
    "42",
    "7",
];

const IPS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.0",
    "10.0.0.255",
    "10.0.1.1",
    "10.0.0.01",
    "192.168.0.1",
    "255.255.255.255",
    "0.0.0.0",
    "2001:db8::1",
    "2001:DB8::1",
    "2001:db8::ffff",
    "2001:db9::1",
    "::1",
    "::ffff:10.0.0.1",
    "fe80::",
    "not-an-ip",
];

const CIDRS: &[&str] = &[
    "10.0.0.0/24",
    "10.0.0.0/8",
    "10.0.0.0/0",
    "192.168.0.0/16",
    "10.0.0.5/24",
    "2001:db8::/32",
    "2001:db8::/64",
    "10.0.0.1/32",
    "2001:db8::1/128",
    "::ffff:10.0.0.0/120",
    "10.0.0.0/33",
    "10.0.0.0",
    "2001:db8::/129",
    "300.0.0.0/8",
];

const WILDCARDS: &[&str] = &[
    "a*", "*c", "a*c", "*b*", "*", "a**c", "a\\*b", "*😀*", "ab*d*f", "caf*", "*.1", "a\\b", "",
];

struct Gen {
    rng: Rng,
}

impl Gen {
    fn string(&mut self) -> String {
        if self.rng.chance(15) {
            let len = self.rng.below(4);
            (0..len)
                .map(|_| {
                    self.rng
                        .pick(&['a', 'b', 'c', 'A', 'é', 'ß', '😀', '*', '.'])
                })
                .collect()
        } else {
            self.rng.pick(STRINGS).to_owned()
        }
    }

    fn number(&mut self) -> String {
        if self.rng.chance(20) {
            let whole = self.rng.below(2000) as i64 - 1000;
            if self.rng.chance(50) {
                whole.to_string()
            } else {
                format!("{whole}.{}", self.rng.below(100))
            }
        } else {
            self.rng.pick(NUMBERS).to_owned()
        }
    }

    /// A number that is exactly a double, most of the time (numeric bounds and
    /// `anything-but` numbers that are not are refused, and should not crowd out the rest).
    fn comparable_number(&mut self) -> String {
        if self.rng.chance(85) {
            let whole = self.rng.below(2000) as i64 - 1000;
            match self.rng.below(4) {
                0 => whole.to_string(),
                1 => format!("{whole}.5"),
                2 => format!("{whole}.25"),
                _ => self
                    .rng
                    .pick(&["0", "-0", "1e2", "0.1", "2.5", "100.0", "5000000000"])
                    .to_owned(),
            }
        } else {
            self.number()
        }
    }

    fn key(&mut self) -> String {
        self.rng.pick(KEYS).to_owned()
    }

    /// A field path of 1 to 3 keys, without repeats at one level.
    fn path(&mut self) -> Vec<String> {
        let depth = 1 + self.rng.below(3);
        (0..depth).map(|_| self.key()).collect()
    }

    /// One match value of a field's list (a condition), valid most of the time.
    fn condition(&mut self) -> J {
        match self.rng.below(22) {
            0 | 1 => J::Str(self.string()),
            2 => J::Num(self.number()),
            3 => self.rng.pick(&[J::Bool(true), J::Bool(false), J::Null]),
            4 => obj("prefix", J::Str(self.affix())),
            5 => obj("suffix", J::Str(self.affix())),
            6 => obj(
                self.rng.pick(&["prefix", "suffix"]),
                obj("equals-ignore-case", J::Str(self.affix())),
            ),
            7 | 8 => obj("equals-ignore-case", J::Str(self.string())),
            9 => obj("wildcard", s(self.rng.pick(WILDCARDS))),
            10..=12 => obj("anything-but", self.anything_but()),
            13 | 14 => obj("numeric", self.numeric()),
            15 => obj(
                "cidr",
                s(if self.rng.chance(75) {
                    self.rng.pick(&CIDRS[..7])
                } else {
                    self.rng.pick(&CIDRS[7..])
                }),
            ),
            16 | 17 => obj("exists", J::Bool(self.rng.chance(50))),
            18 => obj(
                "exactly",
                if self.rng.chance(80) {
                    J::Str(self.string())
                } else {
                    J::Num(self.number())
                },
            ),
            19 if self.rng.chance(40) => self.malformed(),
            _ => J::Str(self.string()),
        }
    }

    fn affix(&mut self) -> String {
        let text = self.string();
        let cut = text.chars().count().min(1 + self.rng.below(3));
        if self.rng.chance(50) {
            text.chars().take(cut).collect()
        } else {
            let skip = text.chars().count() - cut;
            text.chars().skip(skip).collect()
        }
    }

    fn anything_but(&mut self) -> J {
        match self.rng.below(20) {
            0 | 1 | 18 | 19 => J::Str(self.string()),
            2 | 3 => J::Num(self.number()),
            4 | 5 => J::Arr(
                (0..1 + self.rng.below(3))
                    .map(|_| J::Str(self.string()))
                    .collect(),
            ),
            6 | 7 => J::Arr(
                (0..1 + self.rng.below(3))
                    .map(|_| J::Num(self.number()))
                    .collect(),
            ),
            8 => J::Arr(vec![J::Str(self.string()), J::Num(self.number())]),
            9 | 10 => obj("prefix", J::Str(self.affix())),
            11 | 12 => obj("suffix", J::Str(self.affix())),
            13 | 14 => obj(
                "equals-ignore-case",
                if self.rng.chance(50) {
                    J::Str(self.string())
                } else {
                    J::Arr(vec![J::Str(self.string()), J::Str(self.string())])
                },
            ),
            15 | 16 => obj(
                "wildcard",
                if self.rng.chance(50) {
                    s(self.rng.pick(WILDCARDS))
                } else {
                    J::Arr(vec![
                        s(self.rng.pick(WILDCARDS)),
                        s(self.rng.pick(WILDCARDS)),
                    ])
                },
            ),
            _ => self.rng.pick(&[J::Null, J::Bool(true), J::Arr(vec![])]),
        }
    }

    fn numeric(&mut self) -> J {
        let ops = ["<", "<=", ">", ">=", "="];
        if self.rng.chance(50) {
            J::Arr(vec![
                s(self.rng.pick(&ops)),
                J::Num(self.comparable_number()),
            ])
        } else {
            let mut low = self.comparable_number();
            let mut high = self.comparable_number();
            let value = |t: &str| t.parse::<f64>().unwrap_or(0.0);
            if self.rng.chance(85) && value(&low) > value(&high) {
                std::mem::swap(&mut low, &mut high);
            }
            J::Arr(vec![
                s(self.rng.pick(&[">", ">="])),
                J::Num(low),
                s(self.rng.pick(&["<", "<="])),
                J::Num(high),
            ])
        }
    }

    fn malformed(&mut self) -> J {
        match self.rng.below(10) {
            0 => obj("prefix", J::Num(self.number())),
            1 => obj("numeric", J::Arr(vec![s(">")])),
            2 => obj("numeric", J::Arr(vec![s("!="), n("1")])),
            3 => obj("exists", s("true")),
            4 => obj("PREFIX", s("a")),
            5 => J::Obj(vec![("prefix".into(), s("a")), ("suffix".into(), s("b"))]),
            6 => J::Arr(vec![s("a")]),
            7 => obj("wildcard", s("a**b")),
            8 => obj("numeric", J::Arr(vec![s(">"), s("1")])),
            _ => obj("anything-but", obj("exists", J::Bool(true))),
        }
    }

    /// A value that tends to satisfy `condition` (or to just miss it).
    fn value_for(&mut self, condition: &J) -> J {
        let near_miss = self.rng.chance(30);
        match condition {
            J::Str(text) => {
                if near_miss {
                    J::Str(flip_case(text))
                } else {
                    J::Str(text.clone())
                }
            }
            J::Num(text) => {
                if near_miss {
                    J::Num(self.number())
                } else {
                    J::Num(text.clone())
                }
            }
            J::Obj(entries) => match entries.first() {
                Some((op, J::Str(operand))) if op == "prefix" => {
                    let tail = self.string();
                    J::Str(if near_miss {
                        format!("{}{tail}", flip_case(operand))
                    } else {
                        format!("{operand}{tail}")
                    })
                }
                Some((op, J::Str(operand))) if op == "suffix" => {
                    let head = self.string();
                    J::Str(if near_miss {
                        format!("{head}{}", flip_case(operand))
                    } else {
                        format!("{head}{operand}")
                    })
                }
                Some((op, J::Obj(inner))) if op == "prefix" || op == "suffix" => {
                    let operand = match inner.first() {
                        Some((_, J::Str(t))) => t.clone(),
                        _ => String::new(),
                    };
                    let other = self.string();
                    let operand = flip_case(&operand);
                    J::Str(if op == "prefix" {
                        format!("{operand}{other}")
                    } else {
                        format!("{other}{operand}")
                    })
                }
                Some((op, J::Str(operand))) if op == "equals-ignore-case" || op == "exactly" => {
                    J::Str(if near_miss {
                        format!("{operand}x")
                    } else {
                        flip_case(operand)
                    })
                }
                Some((op, J::Str(pattern))) if op == "wildcard" => {
                    let filler = if near_miss {
                        String::new()
                    } else {
                        self.string()
                    };
                    J::Str(
                        pattern
                            .replace("\\*", "\u{0}")
                            .replace('*', &filler)
                            .replace('\u{0}', "*"),
                    )
                }
                Some((op, J::Str(_))) if op == "cidr" => s(self.rng.pick(IPS)),
                Some((op, J::Arr(terms))) if op == "numeric" => match terms.get(1) {
                    Some(J::Num(bound)) if !near_miss => J::Num(bound.clone()),
                    _ => J::Num(self.number()),
                },
                Some((op, inner)) if op == "anything-but" => match inner {
                    J::Str(t) => J::Str(if near_miss { self.string() } else { t.clone() }),
                    J::Num(t) => J::Num(if near_miss { self.number() } else { t.clone() }),
                    J::Arr(items) if !items.is_empty() && !near_miss => {
                        items[self.rng.below(items.len())].clone()
                    }
                    _ => self.scalar(),
                },
                _ => self.scalar(),
            },
            _ => self.scalar(),
        }
    }

    fn scalar(&mut self) -> J {
        match self.rng.below(8) {
            0..=3 => J::Str(self.string()),
            4 | 5 => J::Num(self.number()),
            6 => J::Bool(self.rng.chance(50)),
            _ => J::Null,
        }
    }

    /// A field's match list.
    fn match_list(&mut self) -> Vec<J> {
        let count = if self.rng.chance(3) {
            0
        } else {
            1 + self.rng.below(3)
        };
        (0..count).map(|_| self.condition()).collect()
    }

    /// A pattern object: 1 to 3 fields, sometimes an `$or`.
    fn pattern(&mut self, depth: usize) -> Vec<(Vec<String>, Vec<J>)> {
        let fields = 1 + self.rng.below(3);
        (0..fields)
            .map(|_| {
                let mut path = self.path();
                if depth > 0 {
                    path.truncate(2);
                }
                (path, self.match_list())
            })
            .collect()
    }
}

/// Swaps the case of the first cased character (a near miss, or an ignore-case hit).
fn flip_case(text: &str) -> String {
    let mut out = String::new();
    let mut flipped = false;
    for c in text.chars() {
        if !flipped && (c.is_lowercase() || c.is_uppercase()) {
            if c.is_lowercase() {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            flipped = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Inserts `value` at `path` into a nested object (later fields merge into earlier ones;
/// a scalar already there is replaced).
fn insert(root: &mut Vec<(String, J)>, path: &[String], value: J) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let position = root.iter().position(|(k, _)| k == first);
    if rest.is_empty() {
        match position {
            Some(i) => root[i].1 = value,
            None => root.push((first.clone(), value)),
        }
        return;
    }
    let index = match position {
        Some(i) => i,
        None => {
            root.push((first.clone(), J::Obj(Vec::new())));
            root.len() - 1
        }
    };
    if !matches!(root[index].1, J::Obj(_)) {
        root[index].1 = J::Obj(Vec::new());
    }
    if let J::Obj(children) = &mut root[index].1 {
        insert(children, rest, value);
    }
}

/// Pattern fields to a nested pattern object.
fn pattern_object(fields: &[(Vec<String>, Vec<J>)]) -> Vec<(String, J)> {
    let mut root = Vec::new();
    for (path, list) in fields {
        insert(&mut root, path, J::Arr(list.clone()));
    }
    root
}

/// Wraps some objects of the event into arrays of objects, and some leaves into arrays of
/// scalars, so that array semantics are exercised.
fn arrayify(generator: &mut Gen, value: J, depth: usize) -> J {
    match value {
        J::Obj(entries) => {
            let entries = entries
                .into_iter()
                .map(|(k, v)| (k, arrayify(generator, v, depth + 1)))
                .collect::<Vec<_>>();
            if depth > 0 && generator.rng.chance(20) {
                let other = J::Obj(
                    entries
                        .iter()
                        .map(|(k, _)| (k.clone(), generator.scalar()))
                        .collect(),
                );
                if generator.rng.chance(50) {
                    J::Arr(vec![J::Obj(entries), other])
                } else {
                    J::Arr(vec![other, J::Obj(entries)])
                }
            } else {
                J::Obj(entries)
            }
        }
        scalar if generator.rng.chance(20) => {
            let extra = generator.scalar();
            J::Arr(vec![extra, scalar])
        }
        other => other,
    }
}

fn event_for(generator: &mut Gen, fields: &[(Vec<String>, Vec<J>)]) -> Vec<(String, J)> {
    let mut root = Vec::new();
    for (path, list) in fields {
        if generator.rng.chance(12) {
            continue; // the field is missing
        }
        let value = if list.is_empty() || generator.rng.chance(10) {
            generator.scalar()
        } else {
            let condition = list[generator.rng.below(list.len())].clone();
            generator.value_for(&condition)
        };
        insert(&mut root, path, value);
    }
    if generator.rng.chance(30) {
        let path = generator.path();
        let value = generator.scalar();
        insert(&mut root, &path, value);
    }
    root
}

fn case(generator: &mut Gen) -> (String, String) {
    let fields = generator.pattern(0);
    let mut pattern = pattern_object(&fields);
    let mut all_fields = fields.clone();
    if generator.rng.chance(20) {
        let branches: Vec<_> = (0..2 + generator.rng.below(2))
            .map(|_| generator.pattern(1))
            .collect();
        let or_place = if generator.rng.chance(70) || pattern.is_empty() {
            None
        } else {
            Some(generator.rng.below(pattern.len()))
        };
        let or = J::Arr(branches.iter().map(|b| J::Obj(pattern_object(b))).collect());
        match or_place {
            None => pattern.push(("$or".to_owned(), or)),
            Some(i) => {
                if let J::Obj(children) = &mut pattern[i].1 {
                    children.push(("$or".to_owned(), or));
                } else {
                    pattern.push(("$or".to_owned(), or));
                }
            }
        }
        let chosen = generator.rng.below(branches.len());
        let prefix: Vec<String> = match or_place {
            Some(i) if matches!(pattern[i].1, J::Obj(_)) => vec![pattern[i].0.clone()],
            _ => Vec::new(),
        };
        for (path, list) in &branches[chosen] {
            let mut full = prefix.clone();
            full.extend(path.iter().cloned());
            all_fields.push((full, list.clone()));
        }
    }
    let event = event_for(generator, &all_fields);
    let event = arrayify(generator, J::Obj(event), 0);
    let (mut p, mut e) = (String::new(), String::new());
    write_json(&mut p, &J::Obj(pattern));
    write_json(&mut e, &event);
    (p, e)
}

/// Number tokens at the edge of event-ruler's precision and in exponent form.
fn edge_number(rng: &mut Rng) -> String {
    const FIXED: &[&str] = &[
        "-5000000000",
        "5000000000",
        "-4999999999.9999999990",
        "5e9",
        "-5e9",
        "-5000000000000e-3",
        "5000000000.000001",
        "4999999999.999999",
        "0.1",
        "0.10000000000000001",
        "1e-7",
        "0.0000001",
        "1.0E2",
        "100",
        "9007199254740993",
        "9007199254740992",
        "1.7976931348623157e308",
        "4.9e-324",
        "5e-324",
        "-0",
        "0e0",
        "123456789012345678",
        "1E+2",
    ];
    let sign = if rng.chance(50) { "-" } else { "" };
    match rng.below(6) {
        0 | 1 => rng.pick(FIXED).to_owned(),
        2 => {
            let digits = 1 + rng.below(19);
            let mantissa = rng.next()
                % 10u64
                    .checked_pow(u32::try_from(digits).unwrap_or(19))
                    .unwrap_or(u64::MAX);
            let exponent = i64::try_from(rng.below(26)).unwrap_or(0) - 20;
            format!("{sign}{mantissa}e{exponent}")
        }
        3 => {
            let whole = rng.below(5_000_000_001);
            let decimals: String = (0..1 + rng.below(21))
                .map(|_| char::from(b'0' + u8::try_from(rng.below(10)).unwrap_or(0)))
                .collect();
            format!("{sign}{whole}.{decimals}")
        }
        4 => {
            let digits = 1 + rng.below(20);
            let value = rng.next()
                % 10u64
                    .checked_pow(u32::try_from(digits).unwrap_or(19))
                    .unwrap_or(u64::MAX);
            format!("{sign}{value}")
        }
        _ => {
            // A double's shortest text, shifted by one unit in the last place or not.
            let value = (rng.next() % 10_000_000_000) as f64 / 1000.0 - 5_000_000.0;
            let value = match rng.below(3) {
                0 => f64::from_bits(value.to_bits() + 1),
                _ => value,
            };
            if rng.chance(50) {
                format!("{value:e}")
            } else {
                format!("{value}")
            }
        }
    }
}

/// One case of the edge kinds (`--edges`): numbers at the edge of precision and in
/// exponent form; an empty array standing for a missing field under `exists`; dotted keys
/// in the event; `$or` with `cidr`; `equals-ignore-case` beyond the Basic Multilingual
/// Plane. Written as text, so that each number keeps its token.
fn edge_case(rng: &mut Rng, index: usize) -> (String, String) {
    let quote = |text: &str| {
        let mut out = String::new();
        write_str(&mut out, text);
        out
    };
    match index % 5 {
        0 => {
            let (a, b, c) = (edge_number(rng), edge_number(rng), edge_number(rng));
            let pattern = match rng.below(3) {
                0 => format!(r#"{{"detail":{{"n":[{a}]}}}}"#),
                1 => {
                    let op = rng.pick(&[">", ">=", "<", "<=", "="]);
                    format!(r#"{{"detail":{{"n":[{{"numeric":["{op}",{a}]}}]}}}}"#)
                }
                _ => format!(r#"{{"detail":{{"n":[{{"anything-but":[{a}]}}]}}}}"#),
            };
            let value = match rng.below(4) {
                0 => b,
                1 => format!("[{b},{c}]"),
                2 => format!("[{a},{b}]"),
                _ => a,
            };
            (pattern, format!(r#"{{"detail":{{"n":{value}}}}}"#))
        }
        1 => {
            let exists = rng.pick(&["true", "false"]);
            let other = rng.pick(&["", r#","c":["x"]"#]);
            let pattern = match rng.below(3) {
                0 => format!(r#"{{"a":{{"b":[{{"exists":{exists}}}]}}{other}}}"#),
                1 => format!(r#"{{"a":[{{"exists":{exists}}}]{other}}}"#),
                _ => format!(r#"{{"a":{{"b":[{{"exists":{exists}}}],"d":["y"]}}{other}}}"#),
            };
            let event = rng.pick(&[
                r#"{"a":{"b":[]},"c":"x"}"#,
                r#"{"a":[],"c":"x"}"#,
                r#"{"a":{"b":[[]]},"c":"x"}"#,
                r#"{"a":[{"b":[]},{"b":1}],"c":"x"}"#,
                r#"{"a":{"b":{}},"c":"x"}"#,
                r#"{"a":{"b":[{}]},"c":"x"}"#,
                r#"{"a":{"b":null},"c":"x"}"#,
                r#"{"c":"x"}"#,
                r#"{"a":[{}],"c":"x"}"#,
                r#"{"a":{"b":[],"d":"y"},"c":"x"}"#,
                r#"{"a":[{"b":[],"d":"y"},{"d":"y"}]}"#,
                r#"{"a":{"b":[null],"d":"y"}}"#,
            ]);
            (pattern, event.to_owned())
        }
        2 => {
            let pattern = rng.pick(&[
                r#"{"a":{"b":["x"]}}"#,
                r#"{"a.b":["x"]}"#,
                r#"{"a":{"b.c":["x"]}}"#,
                r#"{"a.b":{"c":["x"]}}"#,
                r#"{"a":{"b":{"c":["x"]}}}"#,
                r#"{"a":{"b":[{"exists":false}]}}"#,
                r#"{"a.b":[{"exists":true}]}"#,
                r#"{"a":{"b":[{"anything-but":"y"}]}}"#,
                r#"{"a.b":["x"],"a":{"c":["z"]}}"#,
            ]);
            let event = rng.pick(&[
                r#"{"a.b":"x"}"#,
                r#"{"a":{"b":"x"}}"#,
                r#"{"a.b":{"c":"x"}}"#,
                r#"{"a":{"b.c":"x"}}"#,
                r#"{"a.b.c":"x"}"#,
                r#"{"a":{"b":"y"},"a.b":"x"}"#,
                r#"{"a.b":["x"]}"#,
                r#"{"a":[{"b.c":"x"}]}"#,
                r#"{"a.b":"x","a":{"c":"z"}}"#,
                r#"{"a":[{"b":"x"},{"c":"z"}]}"#,
            ]);
            (pattern.to_owned(), event.to_owned())
        }
        3 => {
            const NETS: &[&str] = &[
                "10.0.0.0/24",
                "10.0.0.0/8",
                "192.168.1.0/31",
                "2001:db8::/32",
                "fe80::/10",
                "0.0.0.0/0",
                "10.0.0.1/32",
                "10.0.0.0/33",
                "::ffff:10.0.0.0/120",
            ];
            let net = rng.pick(NETS);
            let other = match rng.below(5) {
                0 => format!(r#"{{"cidr":"{}"}}"#, rng.pick(NETS)),
                1 => r#""10.0.0.5""#.to_owned(),
                2 => r#"{"prefix":"10."}"#.to_owned(),
                3 => r#"{"anything-but":"10.0.0.5"}"#.to_owned(),
                _ => r#"{"exists":false}"#.to_owned(),
            };
            let third = rng.pick(&["", r#",{"x":["y"]}"#, r#",{"ip":[{"cidr":"fe80::/16"}]}"#]);
            let outer = rng.pick(&["", r#","x":["y"],"#]);
            let pattern = if outer.is_empty() {
                format!(r#"{{"$or":[{{"ip":[{{"cidr":"{net}"}}]}},{{"ip":[{other}]}}{third}]}}"#)
            } else {
                format!(
                    r#"{{"x":["y"],"$or":[{{"ip":[{{"cidr":"{net}"}}]}},{{"ip":[{other}]}}{third}]}}"#
                )
            };
            let ip = rng.pick(&[
                "10.0.0.5",
                "10.0.1.5",
                "192.168.1.1",
                "2001:db8::1",
                "FE80::1",
                "010.0.0.5",
                "::ffff:10.0.0.5",
                "x",
                "10.0.0.1",
                "10.0.0.255",
            ]);
            let event = match rng.below(3) {
                0 => format!(r#"{{"ip":{}}}"#, quote(ip)),
                1 => format!(r#"{{"ip":{},"x":"y"}}"#, quote(ip)),
                _ => format!(r#"{{"ip":[{},"x"],"x":"y"}}"#, quote(ip)),
            };
            (pattern, event)
        }
        _ => {
            const CHARS: &[&str] = &["😀", "𝒜", "a", "A", "ß", "ǅ", "?", "x", "é", "É", "Σ"];
            let text: String = (0..1 + rng.below(3)).map(|_| rng.pick(CHARS)).collect();
            let operand = quote(&text);
            let form = match rng.below(5) {
                0 => format!(r#"{{"equals-ignore-case":{operand}}}"#),
                1 => format!(r#"{{"prefix":{{"equals-ignore-case":{operand}}}}}"#),
                2 => format!(r#"{{"suffix":{{"equals-ignore-case":{operand}}}}}"#),
                3 => format!(r#"{{"anything-but":{{"equals-ignore-case":{operand}}}}}"#),
                _ => format!(r#"{{"anything-but":{{"equals-ignore-case":[{operand},"b"]}}}}"#),
            };
            let question = text.replace(['😀', '𝒜'], "??");
            let value = match rng.below(7) {
                0 => text.clone(),
                1 => text.to_uppercase(),
                2 => text.to_lowercase(),
                3 => question.clone(),
                4 => format!("{}z", question.to_uppercase()),
                5 => format!("z{question}"),
                _ => format!("z{text}"),
            };
            (
                format!(r#"{{"k":[{form}]}}"#),
                format!(r#"{{"k":{}}}"#, quote(&value)),
            )
        }
    }
}

fn main() {
    let mut seed = 1u64;
    let mut count = 3200usize;
    let mut edges = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--edges" {
            edges = true;
            continue;
        }
        let value = args.next();
        let parsed = value.as_deref().and_then(|v| v.parse::<u64>().ok());
        match (arg.as_str(), parsed) {
            ("--seed", Some(v)) => seed = v,
            ("--count", Some(v)) => count = usize::try_from(v).unwrap_or(usize::MAX),
            _ => {
                eprintln!(
                    "usage: ruler_cases [--seed N] [--count N] [--edges]  (got {arg} {value:?})"
                );
                std::process::exit(2);
            }
        }
    }
    let mut generator = Gen { rng: Rng(seed) };
    let mut out = String::new();
    for index in 0..count {
        if edges {
            let (pattern, event) = edge_case(&mut generator.rng, index);
            let _ = writeln!(out, "edges{seed}-{index:05}\t{pattern}\t{event}");
        } else {
            let (pattern, event) = case(&mut generator);
            let _ = writeln!(out, "seed{seed}-{index:05}\t{pattern}\t{event}");
        }
    }
    print!("{out}");
}
