//! Every shell command the docs give, checked without running it: README.md, ARCHITECTURE.md,
//! RELIABILITY.md, BENCHMARKS.md and `docs/*.md`, in their `sh` code blocks and in inline
//! code that starts with a command.
//!
//! - `eventrail ...` and `cargo run -p eventrail -- ...` against the CLI's own parser
//!   (`eventrail::Cli::try_parse_from`), and the repository paths they name must exist;
//! - `cargo xtask ...` against xtask's parser;
//! - other `cargo` commands against `cargo metadata`: the packages (`-p`), test targets
//!   (`--test`), binaries, examples and benches they name exist, and a module named by a test
//!   filter (`faults::`, `test(/^e2e::/)`) is a module of the integration binary;
//! - `cargo lambda build|watch|invoke`: the function it invokes and the data file exist.
//!
//! Placeholders: `<anything>` stands for a sample value, an all-capitals word (`N`, `FILE`,
//! `T`) for a value, `a|b` for its first alternative, `[--flag X]` for the flag given, and
//! `...` for nothing. Inline code may name a command without its required arguments
//! ("`eventrail dlq show` reads ..."); a code block's lines must be complete.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::Parser;
use clap::error::ErrorKind;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The docs whose commands are checked.
fn docs() -> Vec<PathBuf> {
    let root = repo();
    let mut files: Vec<PathBuf> = [
        "README.md",
        "ARCHITECTURE.md",
        "RELIABILITY.md",
        "BENCHMARKS.md",
    ]
    .iter()
    .map(|name| root.join(name))
    .collect();
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    files.extend(pages);
    files
}

/// Where a command was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A line of a shell code block: must be complete.
    Block,
    /// Inline code in prose: may stop before its required arguments.
    Inline,
}

/// One command of a doc, split into words with its placeholders filled.
#[derive(Debug, Clone)]
struct DocCommand {
    file: String,
    line: usize,
    place: Place,
    text: String,
    words: Vec<String>,
    /// Whether the doc has put the pinned tools (`.eventrail/venv/tools/bin`) on `PATH` in a
    /// code block before this command.
    tools_on_path: bool,
}

impl DocCommand {
    fn at(&self) -> String {
        format!("{}:{}: `{}`", self.file, self.line, self.text)
    }
}

/// The commands of one Markdown text.
fn commands_in(file: &str, text: &str) -> Vec<DocCommand> {
    let mut found = Vec::new();
    let mut fence: Option<(String, bool)> = None; // (marker, is a shell block)
    let mut pending = String::new();
    let mut pending_line = 0;
    let mut tools_on_path = false;
    // Prose is read a paragraph at a time: inline code may run over a line break.
    let mut paragraph = String::new();
    let mut paragraph_line = 0;
    let flush = |paragraph: &mut String, line: usize, found: &mut Vec<DocCommand>| {
        for span in inline_code(paragraph) {
            if starts_a_command(&span) {
                for command in shell_commands(&span) {
                    found.push(DocCommand {
                        file: file.to_owned(),
                        line,
                        place: Place::Inline,
                        text: span.clone(),
                        words: command,
                        tools_on_path: false,
                    });
                }
            }
        }
        paragraph.clear();
    };
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        if let Some((marker, shell)) = &fence {
            if trimmed.starts_with(marker.as_str())
                && trimmed.trim_start_matches('`').trim().is_empty()
            {
                fence = None;
                pending.clear();
                continue;
            }
            if !*shell {
                continue;
            }
            if pending.is_empty() {
                pending_line = number;
            }
            let content = line.trim();
            if let Some(continued) = content.strip_suffix('\\') {
                pending.push_str(continued);
                pending.push(' ');
                continue;
            }
            pending.push_str(content);
            let whole = std::mem::take(&mut pending);
            let whole = whole.trim().trim_start_matches("$ ");
            if whole.starts_with("export PATH=") && whole.contains(".eventrail/venv/tools/bin") {
                tools_on_path = true;
            }
            for command in shell_commands(whole) {
                found.push(DocCommand {
                    file: file.to_owned(),
                    line: pending_line,
                    place: Place::Block,
                    text: whole.to_owned(),
                    words: command,
                    tools_on_path,
                });
            }
            continue;
        }
        if trimmed.starts_with("```") {
            flush(&mut paragraph, paragraph_line, &mut found);
            let language = trimmed.trim_start_matches('`').trim();
            let shell = matches!(language, "" | "sh" | "bash" | "shell" | "console");
            let marker: String = trimmed.chars().take_while(|c| *c == '`').collect();
            fence = Some((marker, shell));
            continue;
        }
        // A blank line, a heading, a list item or a table row starts a new paragraph.
        let new_block = trimmed.is_empty()
            || trimmed.starts_with('#')
            || trimmed.starts_with("- ")
            || trimmed.starts_with("* ")
            || trimmed.starts_with('|')
            || trimmed
                .split_once(". ")
                .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty());
        if new_block {
            flush(&mut paragraph, paragraph_line, &mut found);
        }
        if !trimmed.is_empty() {
            if paragraph.is_empty() {
                paragraph_line = number;
            }
            paragraph.push_str(trimmed);
            paragraph.push(' ');
        }
    }
    flush(&mut paragraph, paragraph_line, &mut found);
    found
}

/// The inline code spans of a paragraph of prose (`` `x` `` and ``` ``x`` ```).
fn inline_code(text: &str) -> Vec<String> {
    let mut spans = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let ticks = rest[open..].chars().take_while(|c| *c == '`').count();
        let marker = "`".repeat(ticks);
        let after = &rest[open + ticks..];
        match after.find(&marker) {
            Some(close) => {
                spans.push(after[..close].trim().to_owned());
                rest = &after[close + ticks..];
            }
            None => break,
        }
    }
    spans
}

fn starts_a_command(span: &str) -> bool {
    let words: Vec<&str> = span.split_whitespace().collect();
    // After any leading `VAR=value` assignments.
    let mut command = words.iter().skip_while(|w| is_assignment(w));
    matches!(command.next(), Some(&"eventrail" | &"cargo")) && command.next().is_some()
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// A word of a shell line, and whether any of it was quoted.
#[derive(Debug, Clone)]
struct Word {
    text: String,
    quoted: bool,
}

/// Splits a shell line into words (quotes and backslashes as the shell reads them), dropping
/// a comment.
fn shell_words(line: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut current: Option<Word> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' if current.is_none() => break,
            c if c.is_whitespace() => {
                if let Some(word) = current.take() {
                    words.push(word);
                }
            }
            '\'' | '"' => {
                let word = current.get_or_insert(Word {
                    text: String::new(),
                    quoted: true,
                });
                word.quoted = true;
                while let Some(inner) = chars.next() {
                    if inner == c {
                        break;
                    }
                    if c == '"' && inner == '\\' {
                        if let Some(escaped) = chars.next() {
                            word.text.push(escaped);
                        }
                        continue;
                    }
                    word.text.push(inner);
                }
            }
            '\\' => {
                if let Some(escaped) = chars.next() {
                    current
                        .get_or_insert(Word {
                            text: String::new(),
                            quoted: false,
                        })
                        .text
                        .push(escaped);
                }
            }
            _ => current
                .get_or_insert(Word {
                    text: String::new(),
                    quoted: false,
                })
                .text
                .push(c),
        }
    }
    if let Some(word) = current {
        words.push(word);
    }
    words
}

/// The commands of one shell line (split at `|`, `&&`, `||`, `;`), redirections and leading
/// variable assignments dropped, placeholders filled. Only the commands this test knows
/// (`eventrail`, `cargo`) are kept.
fn shell_commands(line: &str) -> Vec<Vec<String>> {
    let filled = fill_angle_placeholders(line);
    let mut commands = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut words = shell_words(&filled).into_iter().peekable();
    while let Some(word) = words.next() {
        if !word.quoted && matches!(word.text.as_str(), "|" | "||" | "&&" | ";" | "&") {
            commands.push(std::mem::take(&mut current));
            continue;
        }
        if !word.quoted
            && (word.text.starts_with('>') || word.text.starts_with("2>") || word.text == "<")
        {
            // A redirection: its target is the next word unless glued on.
            if matches!(word.text.as_str(), ">" | ">>" | "2>" | "<") {
                words.next();
            }
            continue;
        }
        if current.is_empty() && !word.quoted && is_assignment(&word.text) {
            continue;
        }
        if word.quoted {
            current.push(word.text);
        } else if let Some(filled) = fill_placeholder(&word.text) {
            current.push(filled);
        }
    }
    commands.push(current);
    commands
        .into_iter()
        .filter(|words| {
            matches!(
                words.first().map(String::as_str),
                Some("eventrail" | "cargo")
            )
        })
        .collect()
}

/// `<anything>` is a sample value.
fn fill_angle_placeholders(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let starts_word = after.chars().next().is_some_and(char::is_alphabetic);
        match after.find('>') {
            Some(close) if starts_word && !after[..close].contains('<') => {
                out.push_str(&rest[..open]);
                let name = &after[..close];
                // A function, a binary or a package must be a real one to check: one of the
                // app's functions stands for it.
                if ["function", "bin", "package", "crate"]
                    .iter()
                    .any(|w| name.contains(w))
                {
                    out.push_str(&sample_function());
                } else {
                    out.push_str(SAMPLE);
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..open + 1]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What a placeholder stands for: a value every option of the CLI accepts.
const SAMPLE: &str = "1";

/// What `<function>` stands for: the first of the app's functions (a package and a binary).
fn sample_function() -> String {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("functions"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .unwrap_or_else(|| SAMPLE.to_owned())
}

/// One unquoted word with its placeholders filled; `None` for a word that stands for nothing
/// (`...`).
fn fill_placeholder(word: &str) -> Option<String> {
    let word = word.trim_start_matches('[').trim_end_matches(']');
    if word.is_empty() || word == "..." || word == "…" {
        return None;
    }
    let word = word.trim_end_matches("...");
    // `a|b`: the first alternative.
    let word = match word.split_once('|') {
        Some((first, _)) if !first.is_empty() => first,
        _ => word,
    };
    let is_metavariable = word.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if is_metavariable {
        return Some(SAMPLE.to_owned());
    }
    Some(word.to_owned())
}

// ---------------------------------------------------------------------------- the workspace

struct Workspace {
    /// Package name -> its targets: (kind, name, source path).
    packages: BTreeMap<String, Vec<(String, String, PathBuf)>>,
}

impl Workspace {
    fn load() -> Self {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = std::process::Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(repo())
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
        let mut packages = BTreeMap::new();
        for package in metadata["packages"].as_array().into_iter().flatten() {
            let name = package["name"].as_str().unwrap_or_default().to_owned();
            let targets = package["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|target| {
                    let target_name = target["name"].as_str().unwrap_or_default().to_owned();
                    let path = PathBuf::from(target["src_path"].as_str().unwrap_or_default());
                    target["kind"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(move |kind| (kind.to_owned(), target_name.clone(), path.clone()))
                        .collect::<Vec<_>>()
                })
                .collect();
            packages.insert(name, targets);
        }
        Workspace { packages }
    }

    fn targets<'a>(
        &'a self,
        packages: &'a [String],
    ) -> impl Iterator<Item = &'a (String, String, PathBuf)> {
        self.packages
            .iter()
            .filter(move |(name, _)| packages.is_empty() || packages.contains(name))
            .flat_map(|(_, targets)| targets.iter())
    }
}

// ---------------------------------------------------------------------------- the checks

/// Why a command does not work as written, if it does not.
fn check(command: &DocCommand, workspace: &Workspace) -> Option<String> {
    let words = &command.words;
    let rest: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    match (words[0].as_str(), rest.as_slice()) {
        ("eventrail", args) => check_eventrail(command, args),
        ("cargo", ["run", "-p" | "--package", "eventrail", "--", args @ ..]) => {
            check_eventrail(command, args)
        }
        ("cargo", ["xtask", args @ ..]) => check_xtask(command, args),
        ("cargo", ["lambda", args @ ..]) => check_lambda(args, workspace),
        ("cargo", args) => check_cargo(args, workspace),
        _ => None,
    }
}

fn parse_error_is_acceptable(kind: ErrorKind, place: Place) -> bool {
    match kind {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => true,
        ErrorKind::MissingRequiredArgument
        | ErrorKind::MissingSubcommand
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => place == Place::Inline,
        _ => false,
    }
}

fn check_eventrail(command: &DocCommand, args: &[&str]) -> Option<String> {
    if let Err(error) =
        eventrail::Cli::try_parse_from(std::iter::once("eventrail").chain(args.iter().copied()))
        && !parse_error_is_acceptable(error.kind(), command.place)
    {
        return Some(first_line(&error.to_string()));
    }
    missing_paths(args)
}

fn check_xtask(command: &DocCommand, args: &[&str]) -> Option<String> {
    match super::Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied())) {
        Err(error) if !parse_error_is_acceptable(error.kind(), command.place) => {
            Some(first_line(&error.to_string()))
        }
        _ => None,
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

/// Repository paths a command names (`events/samples/x.json`, `crates/pattern/tests/...`)
/// that do not exist. A glob names its folder.
fn missing_paths(args: &[&str]) -> Option<String> {
    const TOP: &[&str] = &[
        "events/",
        "crates/",
        "infra/",
        "functions/",
        "tests/",
        "docs/",
    ];
    let missing: Vec<&str> = args
        .iter()
        .copied()
        .filter(|arg| TOP.iter().any(|top| arg.starts_with(top)))
        .filter(|arg| {
            let path = match arg.find('*') {
                Some(star) => Path::new(&arg[..star]).to_owned(),
                None => PathBuf::from(arg),
            };
            // Output paths (`catalog --out docs/events`) need not exist; their folder does.
            let path = repo().join(path);
            !path.exists() && !path.parent().is_some_and(Path::is_dir)
                || arg.contains('*') && !path.exists()
                || !arg.contains('*') && !path.exists() && looks_like_input(arg)
        })
        .collect();
    (!missing.is_empty()).then(|| format!("no such file: {}", missing.join(", ")))
}

/// A path with a data file's extension: an input the command reads.
fn looks_like_input(arg: &str) -> bool {
    [".json", ".jsonl", ".yaml", ".toml", ".rs"]
        .iter()
        .any(|ext| arg.ends_with(ext))
}

/// The value of `--name VALUE` / `--name=VALUE` (every occurrence), also under a short name.
fn option_values<'a>(args: &[&'a str], names: &[&str]) -> Vec<&'a str> {
    let mut values = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        if arg == "--" {
            break;
        }
        for name in names {
            if arg == *name {
                if let Some(value) = args.get(i + 1) {
                    values.push(*value);
                }
            } else if let Some(value) = arg.strip_prefix(&format!("{name}=")) {
                values.push(value);
            }
        }
        i += 1;
    }
    values
}

fn check_cargo(args: &[&str], workspace: &Workspace) -> Option<String> {
    let mut problems = Vec::new();
    let packages: Vec<String> = option_values(args, &["-p", "--package"])
        .into_iter()
        .map(|p| p.split('@').next().unwrap_or(p).to_owned())
        .collect();
    for package in &packages {
        if !workspace.packages.contains_key(package) {
            problems.push(format!("no package {package} in the workspace"));
        }
    }
    for (option, kind) in [
        ("--test", "test"),
        ("--bin", "bin"),
        ("--example", "example"),
        ("--bench", "bench"),
    ] {
        for name in option_values(args, &[option]) {
            let exists = workspace
                .targets(&packages)
                .any(|(k, n, _)| k == kind && n == name);
            if !exists {
                let scope = if packages.is_empty() {
                    "the workspace".to_owned()
                } else {
                    packages.join(", ")
                };
                problems.push(format!("no {kind} target `{name}` in {scope}"));
            }
        }
    }
    // Test filters naming a module of a test binary: `faults::` (libtest) or
    // `test(/^(a|b)::/)` (nextest).
    let modules = test_modules(workspace, &packages);
    for module in filter_modules(args) {
        if !modules.contains(&module) {
            problems.push(format!(
                "no test module `{module}::` in {}",
                packages.join(", ")
            ));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// The modules of the selected packages' test targets (`mod x;` in the target's file).
fn test_modules(workspace: &Workspace, packages: &[String]) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for (kind, _, path) in workspace.targets(packages) {
        if kind != "test" && kind != "lib" {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let line = line.trim();
            let line = line.strip_prefix("pub ").unwrap_or(line);
            if let Some(name) = line.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
                modules.insert(name.trim().to_owned());
            }
        }
    }
    modules
}

/// The module names a test filter names: the words ending in `::` after the `--` of a
/// `cargo test` (libtest filters) and the `^name::` or `^(a|b)::` of a nextest `test(/.../)`.
fn filter_modules(args: &[&str]) -> Vec<String> {
    let mut modules = Vec::new();
    if matches!(args.first(), Some(&"test")) {
        // `cargo test [options] [FILTER] [-- FILTER...]`: a filter is a bare word.
        let mut skip_value = false;
        for arg in &args[1..] {
            if skip_value {
                skip_value = false;
                continue;
            }
            if matches!(
                *arg,
                "-p" | "--package"
                    | "--test"
                    | "--bin"
                    | "--features"
                    | "--example"
                    | "--bench"
                    | "-F"
                    | "--profile"
                    | "-j"
                    | "--jobs"
            ) {
                skip_value = true;
                continue;
            }
            if let Some(name) = arg.strip_suffix("::")
                && !name.contains("::")
                && !name.starts_with('-')
            {
                modules.push(name.to_owned());
            }
        }
    }
    for expression in option_values(args, &["-E", "--filterset", "--filter-expr"]) {
        let mut rest = expression;
        while let Some(at) = rest.find("/^") {
            let after = &rest[at + 2..];
            let end = after.find("::").unwrap_or(0);
            let names = after[..end].trim_start_matches('(').trim_end_matches(')');
            if names
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '|')
            {
                modules.extend(
                    names
                        .split('|')
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned),
                );
            }
            rest = &after[end..];
        }
    }
    modules
}

fn check_lambda(args: &[&str], workspace: &Workspace) -> Option<String> {
    let mut problems = Vec::new();
    match args.first() {
        Some(&("build" | "watch" | "invoke" | "new" | "deploy")) => {}
        other => problems.push(format!(
            "`cargo lambda {}` is not a cargo-lambda command",
            other.unwrap_or(&"")
        )),
    }
    for file in option_values(args, &["--data-file"]) {
        if !repo().join(file).is_file() {
            problems.push(format!("no such file: {file}"));
        }
    }
    if args.first() == Some(&"invoke")
        && let Some(function) = args.last()
        && !function.starts_with('-')
        && !workspace
            .targets(&[])
            .any(|(kind, name, _)| kind == "bin" && name == function)
    {
        problems.push(format!("no function binary `{function}`"));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// What a doc's commands need from the commands before them, in the doc's order:
/// - `new function` consumes and emits only events of the catalog, or events a `new event`
///   before it (in the same doc) added;
/// - a `cargo lambda` line in a code block comes after the doc put the pinned tools on `PATH`.
fn sequence_problems(commands: &[DocCommand], catalog: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut known: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for command in commands {
        let events = known
            .entry(command.file.as_str())
            .or_insert_with(|| catalog.clone());
        let args = eventrail_args(&command.words);
        match args.as_deref() {
            Some(["new", "event", name, ..]) => {
                events.insert((*name).to_owned());
            }
            Some(["new", "function", rest @ ..]) => {
                let unknown: Vec<&str> = option_values(rest, &["--consumes", "--emits"])
                    .into_iter()
                    .flat_map(|list| list.split(','))
                    .map(str::trim)
                    .filter(|event| *event != "*" && *event != SAMPLE && !events.contains(*event))
                    .collect();
                if !unknown.is_empty() {
                    problems.push(format!(
                        "{}\n    {} not in the catalog: add it with `new event` first",
                        command.at(),
                        unknown.join(", ")
                    ));
                }
            }
            _ => {}
        }
        let is_lambda = command.words.get(1).is_some_and(|w| w == "lambda");
        if is_lambda && command.place == Place::Block && !command.tools_on_path {
            problems.push(format!(
                "{}\n    cargo-lambda is not on PATH yet: export PATH=\"$PWD/.eventrail/venv/tools/bin:$PATH\" first",
                command.at()
            ));
        }
    }
    problems
}

/// The CLI arguments of an `eventrail ...` or `cargo run -p eventrail -- ...` command.
fn eventrail_args(words: &[String]) -> Option<Vec<&str>> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["eventrail", args @ ..] => Some(args.to_vec()),
        [
            "cargo",
            "run",
            "-p" | "--package",
            "eventrail",
            "--",
            args @ ..,
        ] => Some(args.to_vec()),
        _ => None,
    }
}

/// The catalog's detail-types (`[workspace.metadata.eventrail] catalog`).
fn catalog_events() -> BTreeSet<String> {
    let project = eventrail_contract::Project::load(repo()).expect("the project loads");
    let catalog = project.catalog().expect("the catalog index reads");
    catalog.events.into_iter().map(|e| e.detail_type).collect()
}

fn all_commands() -> Vec<DocCommand> {
    let root = repo();
    let mut commands = Vec::new();
    for doc in docs() {
        let text = std::fs::read_to_string(&doc)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", doc.display()));
        let name = doc
            .strip_prefix(&root)
            .unwrap_or(&doc)
            .display()
            .to_string();
        commands.extend(commands_in(&name, &text));
    }
    commands
}

#[test]
fn every_command_the_docs_give_works_as_written() {
    let workspace = Workspace::load();
    let commands = all_commands();
    let mut failures: Vec<String> = commands
        .iter()
        .filter_map(|command| {
            Some(format!(
                "{}\n    {}",
                command.at(),
                check(command, &workspace)?
            ))
        })
        .collect();
    failures.extend(sequence_problems(&commands, &catalog_events()));
    assert!(
        failures.is_empty(),
        "{} of the docs' {} commands do not work as written:\n{}",
        failures.len(),
        commands.len(),
        failures.join("\n")
    );
}

#[test]
fn the_docs_give_the_readme_commands_and_more() {
    let commands = all_commands();
    let in_readme = |wanted: &[&str]| {
        commands
            .iter()
            .any(|c| c.file == "README.md" && c.place == Place::Block && c.words == wanted)
    };
    assert!(in_readme(&[
        "cargo",
        "run",
        "-p",
        "eventrail",
        "--",
        "demo"
    ]));
    assert!(in_readme(&["cargo", "xtask", "test"]));
    // Every kind of command is found, so the check above checks something.
    for first in [
        &["eventrail"][..],
        &["cargo", "run", "-p", "eventrail", "--"],
        &["cargo", "xtask"],
        &["cargo", "test"],
        &["cargo", "nextest"],
        &["cargo", "lambda"],
    ] {
        assert!(
            commands.iter().any(|c| c
                .words
                .starts_with(&first.iter().map(|s| s.to_string()).collect::<Vec<_>>())),
            "no doc command starts with {first:?}"
        );
    }
}

#[test]
fn placeholders_are_filled_and_lines_split() {
    let text = "Run `eventrail dlq show <function> [--max N] [--json]` or\n\
                ```sh\n\
                EVENTRAIL_ENDPOINT=http://x:<port> cargo run -p eventrail -- tail --json | jq . # watch\n\
                cargo xtask test -- -E 'test(/^(e2e|ops)::/)'\n\
                cargo run -p eventrail -- local up|deploy\n\
                ```\n";
    let commands = commands_in("x.md", text);
    let function = sample_function();
    let words: Vec<Vec<&str>> = commands
        .iter()
        .map(|c| c.words.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        words,
        vec![
            vec![
                "eventrail",
                "dlq",
                "show",
                function.as_str(),
                "--max",
                "1",
                "--json"
            ],
            vec!["cargo", "run", "-p", "eventrail", "--", "tail", "--json"],
            vec!["cargo", "xtask", "test", "--", "-E", "test(/^(e2e|ops)::/)"],
            vec!["cargo", "run", "-p", "eventrail", "--", "local", "up"],
        ]
    );
    assert_eq!(commands[0].place, Place::Inline);
    assert_eq!(commands[1].place, Place::Block);
    assert_eq!(
        filter_modules(&["nextest", "run", "-E", "test(/^(template|routing)::/)"]),
        vec!["template", "routing"]
    );
    assert_eq!(
        filter_modules(&[
            "test",
            "-p",
            "x",
            "--test",
            "integration",
            "--",
            "faults::",
            "--nocapture"
        ]),
        vec!["faults"]
    );
}

#[test]
fn a_broken_command_is_caught() {
    let workspace = Workspace::load();
    let broken = [
        "```sh\ncargo run -p eventrail -- routes --no-such-option events/samples/x.json\n```\n",
        "```sh\neventrail put events/samples/no-such-sample.json\n```\n",
        "```sh\ncargo test -p eventrail-tests --test template\n```\n",
        "```sh\ncargo xtask tset\n```\n",
        "```sh\ncargo nextest run -p eventrail-tests -E 'test(/^no_such_module::/)'\n```\n",
        "Inline: `eventrail graph --format png`.\n",
    ];
    for text in broken {
        let commands = commands_in("x.md", text);
        assert_eq!(commands.len(), 1, "{text}");
        assert!(
            check(&commands[0], &workspace).is_some(),
            "not caught: {}",
            commands[0].at()
        );
    }
    // What the commands before a command must have done.
    let catalog = catalog_events();
    let known = catalog.iter().next().expect("a catalog event").clone();
    let emits_new = format!(
        "```sh\ncargo run -p eventrail -- new function gift-wrap --consumes {known} --emits GiftWrapped\n```\n"
    );
    assert_eq!(
        sequence_problems(&commands_in("x.md", &emits_new), &catalog).len(),
        1
    );
    let with_event = format!(
        "```sh\ncargo run -p eventrail -- new event GiftWrapped --source eventrail.gift-wrap\n```\n{emits_new}"
    );
    assert!(sequence_problems(&commands_in("x.md", &with_event), &catalog).is_empty());
    let lambda = "```sh\ncargo lambda watch\n```\n";
    assert_eq!(
        sequence_problems(&commands_in("x.md", lambda), &catalog).len(),
        1
    );
    let on_path =
        format!("```sh\nexport PATH=\"$PWD/.eventrail/venv/tools/bin:$PATH\"\n```\n{lambda}");
    assert!(sequence_problems(&commands_in("x.md", &on_path), &catalog).is_empty());
}
