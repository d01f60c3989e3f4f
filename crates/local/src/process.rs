//! LocalStack's process tree on Linux, read from `/proc` and signalled with kill(2): who
//! descends from whom, whether a pid still runs and since when, whether it is python running
//! LocalStack, and stopping a process group with everything it spawned.

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

/// SIGTERM the process group led by `pid`, wait up to `grace` for `exited()`, then SIGKILL
/// the group; finally SIGKILL every descendant seen on the way that is still alive (function
/// processes run in their own sessions, outside the group).
pub(crate) fn stop_process_tree(pid: u32, grace: Duration, mut exited: impl FnMut() -> bool) {
    let mut family: BTreeSet<u32> = descendants(pid);
    signal_group(pid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while !exited() && Instant::now() < deadline {
        family.extend(descendants(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    if !exited() {
        signal_group(pid, libc::SIGKILL);
    }
    for other in family {
        if process_alive(other) {
            signal_process(other, libc::SIGKILL);
        }
    }
}

/// Makes the child receive SIGTERM when its parent thread exits (Linux only).
#[cfg(target_os = "linux")]
pub(crate) fn stop_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2),
    // which is async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn stop_with_parent(_command: &mut Command) {}

fn signal_group(pgid: u32, signal: libc::c_int) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

fn signal_process(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) only sends a signal; no memory is involved.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// True while `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => parse_stat(&stat).is_some_and(|(state, _)| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// True for the command line (`/proc/<pid>/cmdline`, NUL-separated) of
/// `python… -m localstack.runtime.main`.
pub fn is_localstack_cmdline(cmdline: &[u8]) -> bool {
    let mut args = cmdline
        .split(|b| *b == 0)
        .map(|arg| std::str::from_utf8(arg).unwrap_or(""));
    let program = args.next().unwrap_or("");
    let name = program.rsplit('/').next().unwrap_or(program);
    name.starts_with("python")
        && args.next() == Some("-m")
        && args.next() == Some("localstack.runtime.main")
}

/// The start time of `pid` (`/proc/<pid>/stat` field 22, clock ticks after boot).
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    parse_start_ticks(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_start_ticks(stat: &str) -> Option<u64> {
    // After the parenthesised name: field 3 (state) is the first, so field 22 the 20th.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// (state, parent pid) from the text of /proc/PID/stat.
fn parse_stat(stat: &str) -> Option<(char, u32)> {
    // The command name (2nd field) is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// All living descendants of `pid` (children, their children, ...), from /proc.
pub fn descendants(pid: u32) -> BTreeSet<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(stat) = fs::read_to_string(entry.path().join("stat"))
                && let Some((state, ppid)) = parse_stat(&stat)
                && state != 'Z'
            {
                parent_of.push((child, ppid));
            }
        }
    }
    let mut found = BTreeSet::new();
    let mut todo = vec![pid];
    while let Some(parent) = todo.pop() {
        for &(child, ppid) in &parent_of {
            if ppid == parent && found.insert(child) {
                todo.push(child);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_handles_spaces_in_names() {
        assert_eq!(
            parse_stat("123 (python3 -m x) S 45 123 123 0"),
            Some(('S', 45))
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn our_own_process_is_alive_and_has_no_children_listed_wrongly() {
        let me = std::process::id();
        assert!(process_alive(me));
        assert!(!descendants(me).contains(&me));
    }

    #[test]
    fn descendants_include_grandchildren() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut found = BTreeSet::new();
        while Instant::now() < deadline && found.len() < 2 {
            found = descendants(std::process::id());
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(found.contains(&child.id()));
        assert!(found.len() >= 2, "sleep grandchild not found: {found:?}");
        let grandchildren = descendants(child.id());
        signal_process(child.id(), libc::SIGKILL);
        for pid in grandchildren {
            signal_process(pid, libc::SIGKILL);
        }
        child.wait().unwrap();
    }

    #[test]
    fn the_start_time_is_field_22_of_stat() {
        let stat = "4242 (python3 -m x) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 \
                    12 0 987654 1234567 890 18446744073709551615";
        assert_eq!(parse_start_ticks(stat), Some(987_654));
        assert_eq!(parse_start_ticks("4242 (x) S 1"), None);
        assert!(process_start_ticks(std::process::id()).is_some());
    }

    #[test]
    fn only_python_running_localstack_is_taken_for_localstack() {
        let ours = b"/repo/.eventrail/localstack/venv/bin/python3\0-m\0localstack.runtime.main\0";
        assert!(is_localstack_cmdline(ours));
        assert!(is_localstack_cmdline(
            b"python\0-m\0localstack.runtime.main"
        ));
        for other in [
            &b"/usr/bin/sleep\x0030\0"[..],
            b"python3\0-m\0http.server\0",
            b"/usr/bin/bash\0-m\0localstack.runtime.main\0",
            b"python3\0localstack.runtime.main\0",
            b"",
        ] {
            assert!(!is_localstack_cmdline(other), "{other:?}");
        }
    }
}
