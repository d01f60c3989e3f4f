//! One event as a row of a flow: the flows page, a flow's page and the live stream draw the
//! same row. Its `data-received-ms` is when the tap received the event (epoch ms), which
//! the page's script compares with its clock (the live latency).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use maud::{Markup, html};

use crate::state::AppState;
use crate::store::StoredEvent;

/// The functions `event` reaches (from the template's rules), or an empty list.
pub(crate) fn functions_reached(state: &AppState, event: &StoredEvent) -> Vec<String> {
    match &state.router {
        Some(router) => eventrail_observe::put::functions_reached_by_text(router, event.json()),
        None => Vec::new(),
    }
}

/// `HH:MM:SS` of an EventBridge time (`2026-12-07T23:10:04Z`), or the text as it is.
pub(crate) fn clock(time: &str) -> &str {
    time.get(11..19).unwrap_or(time)
}

/// The row of `event`, `depth` levels under its flow's first event.
pub(crate) fn row(state: &AppState, event: &StoredEvent, depth: usize) -> Markup {
    let functions = functions_reached(state, event);
    html! {
        li.event
            data-seq=(event.seq)
            data-received-ms=(event.received_ms)
            data-id=(event.id)
            data-correlation=[event.correlation.as_deref()]
            data-causation=[event.causation.as_deref()]
            style={ "--depth:" (depth) }
        {
            time.t datetime=(event.time) { (clock(&event.time)) }
            span.indent { @if depth > 0 { "└─ " } }
            a.dt href={ "/events/" (event.id) } { (event.detail_type) }
            " "
            span.src title=(event.source) { "from " (event.emitter()) }
            " "
            span.fns {
                "→ "
                @if functions.is_empty() { span.none { "no function" } }
                @else { (functions.join(", ")) }
            }
            @if let Some(key) = &event.business_key {
                " " span.key title="business key" { (key) }
            }
            @if let Some(replay) = &event.replay {
                " " span.badge title="re-delivered by a replay" { "replay " (replay) }
            }
            " "
            a.id href={ "/events/" (event.id) } { (event.id) }
        }
    }
}

/// `events` (one flow, in arrival order) in causal order: each event after its cause, with
/// its depth under the flow's first events (an event whose cause is not among them is a
/// root).
pub(crate) fn tree(events: &[Arc<StoredEvent>]) -> Vec<(Arc<StoredEvent>, usize)> {
    let ids: HashSet<&str> = events.iter().map(|e| &*e.id).collect();
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (at, event) in events.iter().enumerate() {
        match event
            .causation
            .as_deref()
            .filter(|c| ids.contains(c) && *c != &*event.id)
        {
            Some(cause) => children.entry(cause).or_default().push(at),
            None => roots.push(at),
        }
    }
    let mut out = Vec::with_capacity(events.len());
    let mut placed = vec![false; events.len()];
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|at| (*at, 0)).collect();
    while let Some((at, depth)) = stack.pop() {
        if std::mem::replace(&mut placed[at], true) {
            continue;
        }
        out.push((events[at].clone(), depth));
        if let Some(kids) = children.get(&*events[at].id) {
            stack.extend(kids.iter().rev().map(|kid| (*kid, depth + 1)));
        }
    }
    // A cycle of causes (never in a real flow) leaves events unplaced: show them at the end.
    for (at, event) in events.iter().enumerate() {
        if !placed[at] {
            out.push((event.clone(), 0));
        }
    }
    out
}
