//! Replaying a window of the deployed stack's archive onto its bus, optionally only to one
//! function's rules (`FilterArns`), as `eventrail replay` and the studio's replay page do.
//!
//! A replayed event runs a function's side effects once more unless its idempotency record
//! still exists; the records live for the function's `idempotency.ttl-hours`. When the
//! archive keeps events longer than that TTL, a window reaching further back than the TTL
//! would notify customers again, and is refused unless the caller allows it
//! ([`Renotify::Allow`], `--allow-renotify`).

use std::time::SystemTime;

use chrono::{DateTime, TimeDelta, Utc};
use eventrail_contract::Project;

use crate::error::ObserveError;
use crate::stack::Stack;

/// A replay that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A time of the window is not one the options take.
    #[error("{0}")]
    Time(String),
    /// The window is empty or reversed.
    #[error("--from ({from}) must be before --to ({to})")]
    Window {
        /// Its start.
        from: DateTime<Utc>,
        /// Its end.
        to: DateTime<Utc>,
    },
    /// The window would run expired events' side effects again ([`renotify_risk`]).
    #[error("refused: {0}")]
    Renotify(String),
    /// The application's declarations cannot be read.
    #[error("the application's declarations: {message}")]
    Project {
        /// What is wrong.
        message: String,
    },
    /// The stack refused or failed a call.
    #[error(transparent)]
    Stack(#[from] ObserveError),
}

/// Whether a replay may reach events whose idempotency records have expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renotify {
    /// Refuse such a window, saying why (the default).
    Refuse,
    /// Replay it anyway (`--allow-renotify`).
    Allow,
}

/// A time as the options take it: RFC 3339, `now`, or an age (`-90m`). `argument` (`--from`)
/// names the option in errors; an age or date too far for the clock is an error, not a panic.
pub fn parse_time(
    argument: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ReplayError> {
    let text = text.trim();
    if text == "now" {
        return Ok(now);
    }
    if let Some(age) = text.strip_prefix('-') {
        let (number, unit) =
            age.split_at(age.find(|c: char| !c.is_ascii_digit()).unwrap_or(age.len()));
        let unit_seconds: i64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => {
                return Err(ReplayError::Time(format!(
                    "{argument} `{text}`: the unit is one of s, m, h, d (as in -90m, -2h, -1d)"
                )));
            }
        };
        let too_far = || {
            ReplayError::Time(format!(
                "{argument} `{text}`: the age is too large (the earliest time is {})",
                DateTime::<Utc>::MIN_UTC
            ))
        };
        if number.is_empty() {
            return Err(ReplayError::Time(format!(
                "{argument} `{text}`: expected a number before the unit"
            )));
        }
        // Only digits are left: parsing fails only when the number is too large.
        let number: i64 = number.parse().map_err(|_| too_far())?;
        return number
            .checked_mul(unit_seconds)
            .and_then(TimeDelta::try_seconds)
            .and_then(|age| now.checked_sub_signed(age))
            .ok_or_else(too_far);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ReplayError::Time(format!(
                "{argument} `{text}` is not a time: use RFC 3339 (2026-11-27T10:00:00Z), now, \
                 or -90m/-2h/-1d ({e})"
            ))
        })
}

/// How long the archive keeps events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveRetention {
    /// This many days (`ArchiveRetentionDays`).
    Days(u32),
    /// Forever (no retention set).
    Forever,
    /// Not known (DescribeArchive failed): assumed longer than any TTL.
    Unknown,
}

impl ArchiveRetention {
    fn covers(self, ttl: TimeDelta) -> bool {
        match self {
            Self::Days(days) => TimeDelta::try_days(i64::from(days)).is_none_or(|kept| kept > ttl),
            Self::Forever | Self::Unknown => true,
        }
    }

    fn describe(self) -> String {
        match self {
            Self::Days(days) => format!("{days} days (ArchiveRetentionDays)"),
            Self::Forever => "forever (no RetentionDays)".to_owned(),
            Self::Unknown => "an unknown time (DescribeArchive failed)".to_owned(),
        }
    }
}

/// A function whose side effects run once per idempotency key, and how long its records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentFunction {
    /// Declared name (`mailer`).
    pub name: String,
    /// `idempotency.ttl-hours`, in seconds.
    pub ttl_seconds: u64,
}

/// The idempotent functions a replay reaches: `only` when given, else every one.
pub fn idempotent_functions(
    project: &Project,
    only: Option<&str>,
) -> Result<Vec<IdempotentFunction>, ReplayError> {
    Ok(project
        .functions()
        .map_err(|e| ReplayError::Project {
            message: e.to_string(),
        })?
        .into_iter()
        .filter(|f| only.is_none_or(|only| f.name == only))
        .filter_map(|f| {
            let ttl_seconds = f.declaration.idempotency.as_ref()?.ttl_seconds();
            Some(IdempotentFunction {
                name: f.name,
                ttl_seconds,
            })
        })
        .collect())
}

/// Why a replay starting at `from` would run side effects again, if it would: a function's
/// idempotency records last `ttl`, the archive keeps events longer, and `from` is older than
/// `now - ttl`. `None` when the window is safe.
pub fn renotify_risk(
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    functions: &[IdempotentFunction],
    retention: ArchiveRetention,
) -> Option<String> {
    let exposed: Vec<String> = functions
        .iter()
        .filter_map(|f| {
            let ttl = i64::try_from(f.ttl_seconds)
                .ok()
                .and_then(TimeDelta::try_seconds)?;
            let cutoff = now.checked_sub_signed(ttl)?;
            (from < cutoff && retention.covers(ttl)).then(|| {
                format!(
                    "{} (idempotency.ttl-hours = {}: records of events before {} have expired)",
                    f.name,
                    f.ttl_seconds / 3600,
                    cutoff.format("%Y-%m-%dT%H:%M:%SZ")
                )
            })
        })
        .collect();
    if exposed.is_empty() {
        return None;
    }
    Some(format!(
        "--from {} reaches further back than the idempotency TTL of {}. The archive keeps \
         events {}, longer than that TTL, so replaying this window would run those events' \
         side effects again (notify customers again): their idempotency records have expired. \
         Replay a later window, raise idempotency.ttl-hours to at least the archive's \
         retention, or pass --allow-renotify to replay anyway.",
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        exposed.join(", "),
        retention.describe()
    ))
}

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    /// Start of the window.
    pub from: DateTime<Utc>,
    /// End of the window.
    pub to: DateTime<Utc>,
    /// Only this function's rules (as declared); `None`: every rule of the bus.
    pub function: Option<String>,
    /// Whether a window older than an idempotency TTL may be replayed.
    pub renotify: Renotify,
}

/// A replay that started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayStarted {
    /// Its name (`eventrail-replay-<time>-<suffix>`); [`Stack::replay_status`] follows it.
    pub name: String,
    /// The archive replayed.
    pub archive: String,
    /// The rules it is limited to (ARNs); empty: every rule of the bus.
    pub rules: Vec<String>,
    /// Why the window would run side effects again, when [`Renotify::Allow`] let it start.
    pub renotify_warning: Option<String>,
}

impl ReplayStarted {
    /// Where the replay goes, for people: `every rule of the bus` or `rules <arn>, ...`.
    pub fn destination(&self) -> String {
        if self.rules.is_empty() {
            "every rule of the bus".to_owned()
        } else {
            format!("rules {}", self.rules.join(", "))
        }
    }
}

/// Starts a replay of `request`'s window, as `eventrail replay` does: refused when it would
/// reach events whose idempotency records have expired (unless allowed), limited to the
/// function's rules when one is named. `now` is the time the window's ages were read at.
pub async fn start(
    stack: &Stack,
    project: &Project,
    request: &ReplayRequest,
    now: DateTime<Utc>,
) -> Result<ReplayStarted, ReplayError> {
    let (from, to) = (request.from, request.to);
    if from >= to {
        return Err(ReplayError::Window { from, to });
    }
    let functions = idempotent_functions(project, request.function.as_deref())?;
    let mut renotify_warning = None;
    if !functions.is_empty() {
        let retention = match stack.archive_retention_days().await {
            Ok(Some(days)) => ArchiveRetention::Days(days),
            Ok(None) => ArchiveRetention::Forever,
            Err(_) => ArchiveRetention::Unknown,
        };
        if let Some(why) = renotify_risk(from, now, &functions, retention) {
            match request.renotify {
                Renotify::Refuse => return Err(ReplayError::Renotify(why)),
                Renotify::Allow => renotify_warning = Some(why),
            }
        }
    }
    let rules = match &request.function {
        Some(function) => {
            stack.outputs.declared_function(function)?;
            stack.rule_arns_of(function).await?
        }
        None => Vec::new(),
    };
    let name = format!(
        "eventrail-replay-{}-{}",
        now.format("%Y%m%d%H%M%S"),
        &uuid::Uuid::new_v4().simple().to_string()[..4]
    );
    stack
        .start_replay(&name, SystemTime::from(from), SystemTime::from(to), &rules)
        .await?;
    Ok(ReplayStarted {
        name,
        archive: stack.outputs.archive_name().unwrap_or("?").to_owned(),
        rules,
        renotify_warning,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noon() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn parse(text: &str) -> Result<DateTime<Utc>, ReplayError> {
        parse_time("--from", text, noon())
    }

    #[test]
    fn times_are_rfc3339_now_or_an_age() {
        let now = noon();
        assert_eq!(parse("now").unwrap(), now);
        assert_eq!(
            parse("-90m").unwrap().to_rfc3339(),
            "2026-11-27T10:30:00+00:00"
        );
        assert_eq!(
            parse("2026-11-27T11:00:00+01:00").unwrap().to_rfc3339(),
            "2026-11-27T10:00:00+00:00"
        );
        assert!(parse("-3w").is_err());
        assert!(parse("yesterday").is_err());
    }

    #[test]
    fn ages_and_dates_beyond_the_clock_are_errors_naming_the_argument() {
        for text in [
            "-200000000d",
            "-9223372036854775807s",
            "-9223372036854775807d",
            "-99999999999999999999999h",
            "-106751991167301d",
        ] {
            let error = parse_time("--from", text, noon()).unwrap_err().to_string();
            assert!(error.starts_with("--from `"), "{text}: {error}");
            assert!(error.contains("too large"), "{text}: {error}");
        }
        let error = parse_time("--to", "-d", noon()).unwrap_err().to_string();
        assert!(error.starts_with("--to `-d`"), "{error}");
        // The largest ages the clock holds still parse.
        assert!(parse("-90000000d").is_ok());
    }

    /// A small deterministic generator (xorshift64*), so the fuzzing below is repeatable.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }

    #[test]
    fn random_inputs_give_a_time_or_an_error_never_a_panic() {
        const PIECES: &[&str] = &[
            "-",
            "now",
            "s",
            "m",
            "h",
            "d",
            "w",
            "0",
            "1",
            "9",
            "99999999999",
            "9223372036854775807",
            "18446744073709551616",
            "T",
            ":",
            "Z",
            "+",
            "-00:00",
            "+23:59",
            ".",
            "2026",
            "-11-27",
            "262143",
            "-262144",
            "12:00:00",
            "é",
            " ",
            "",
        ];
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let pieces = 1 + random.below(6);
            let text: String = (0..pieces)
                .map(|_| PIECES[random.below(PIECES.len())])
                .collect();
            for argument in ["--from", "--to"] {
                match parse_time(argument, &text, noon()) {
                    Ok(_) => {}
                    Err(error) => {
                        let error = error.to_string();
                        assert!(error.starts_with(argument), "{text:?}: {error}");
                    }
                }
            }
        }
        // Every age in range is exact, and one past the range an error.
        for _ in 0..2_000 {
            let (unit, seconds) =
                [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)][random.below(4)];
            let number = random.next() >> random.below(64);
            let text = format!("-{number}{unit}");
            let expected = i64::try_from(number)
                .ok()
                .and_then(|n| n.checked_mul(seconds))
                .and_then(TimeDelta::try_seconds)
                .and_then(|age| noon().checked_sub_signed(age));
            match (parse(&text), expected) {
                (Ok(time), Some(expected)) => assert_eq!(time, expected, "{text}"),
                (Err(error), None) => assert!(error.to_string().contains("too large"), "{text}"),
                (got, expected) => panic!("{text}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    fn mailer(ttl_hours: u64) -> Vec<IdempotentFunction> {
        vec![IdempotentFunction {
            name: "mailer".to_owned(),
            ttl_seconds: ttl_hours * 3600,
        }]
    }

    #[test]
    fn a_window_older_than_the_idempotency_ttl_is_refused_when_the_archive_keeps_it() {
        let now = noon();
        let days_ago = |days: i64| now - TimeDelta::days(days);
        // TTL 7 days, archive 30 days: a window from 10 days ago would renotify.
        let why = renotify_risk(days_ago(10), now, &mailer(168), ArchiveRetention::Days(30))
            .expect("refused");
        assert!(why.contains("mailer (idempotency.ttl-hours = 168"), "{why}");
        assert!(why.contains("notify customers again"), "{why}");
        assert!(why.contains("30 days (ArchiveRetentionDays)"), "{why}");
        assert!(why.contains("--allow-renotify"), "{why}");
        // Within the TTL: nothing expired.
        assert_eq!(
            renotify_risk(days_ago(6), now, &mailer(168), ArchiveRetention::Days(30)),
            None
        );
        // The archive keeps no longer than the TTL: older events are not in it.
        assert_eq!(
            renotify_risk(days_ago(400), now, &mailer(168), ArchiveRetention::Days(7)),
            None
        );
        assert_eq!(
            renotify_risk(days_ago(400), now, &mailer(168), ArchiveRetention::Days(1)),
            None
        );
        // Forever, or not known: refused.
        for retention in [ArchiveRetention::Forever, ArchiveRetention::Unknown] {
            assert!(renotify_risk(days_ago(8), now, &mailer(168), retention).is_some());
        }
        // No idempotent function reached: nothing to refuse.
        assert_eq!(
            renotify_risk(days_ago(400), now, &[], ArchiveRetention::Forever),
            None
        );
    }
}
