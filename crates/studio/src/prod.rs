//! Production safety: a prod studio is read-only unless `--allow-writes`, and it asks before
//! it creates its tap (a rule and a queue) on a prod bus.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use crate::error::StudioError;
use crate::{Confirm, WriteRequest, Writes};

/// The environment name that is production.
const PROD: &str = "prod";

/// Whether writes work in `env` given what the command line asked.
pub(crate) fn writes(env: &str, request: WriteRequest) -> Writes {
    match (env, request) {
        (_, WriteRequest::Allow) => Writes::Allowed,
        (PROD, WriteRequest::Default) => Writes::ReadOnly,
        _ => Writes::Allowed,
    }
}

/// What the studio tells before creating its tap on `bus`.
pub(crate) fn tap_notice(bus: &str) -> String {
    format!(
        "studio: on the prod bus {bus} the studio creates a rule and an SQS queue named \
         eventrail-tail-{}-<random> (rule pattern {{\"version\":[\"0\"]}}: a copy of every \
         event, kept in this process's memory, personal fields masked); both are removed on exit",
        std::process::id()
    )
}

/// On prod, asks y/N on the terminal before the tap is created (`--yes` skips; without a
/// terminal and without `--yes`, refuses). Elsewhere, nothing to ask.
pub(crate) fn confirm_tap(env: &str, bus: &str, confirm: Confirm) -> Result<(), StudioError> {
    if env != PROD || confirm == Confirm::Yes {
        return Ok(());
    }
    eprintln!("{}", tap_notice(bus));
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(StudioError::NotConfirmed(
            "studio: not creating a tap on a prod bus without a yes: no terminal to ask on; \
             pass --yes to create it"
                .to_owned(),
        ));
    }
    eprint!("create them? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = stdin.lock().read_line(&mut answer);
    if is_yes(&answer) {
        Ok(())
    } else {
        Err(StudioError::NotConfirmed(
            "studio: stopped, nothing created (answer y to create the tap, or pass --yes)"
                .to_owned(),
        ))
    }
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prod_is_read_only_unless_writes_are_allowed() {
        assert_eq!(writes("prod", WriteRequest::Default), Writes::ReadOnly);
        assert_eq!(writes("prod", WriteRequest::Allow), Writes::Allowed);
        assert_eq!(writes("local", WriteRequest::Default), Writes::Allowed);
        assert_eq!(writes("dev", WriteRequest::Default), Writes::Allowed);
    }

    #[test]
    fn only_y_or_yes_confirms() {
        assert!(is_yes("y\n"));
        assert!(is_yes(" YES "));
        assert!(!is_yes("\n"));
        assert!(!is_yes("n"));
        assert!(!is_yes("yess"));
    }

    #[test]
    fn outside_prod_nothing_is_asked() {
        assert!(confirm_tap("local", "bus", Confirm::Ask).is_ok());
        assert!(confirm_tap("prod", "bus", Confirm::Yes).is_ok());
    }
}
