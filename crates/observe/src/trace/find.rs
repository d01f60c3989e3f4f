//! From a key to every span of its flow: the functions' log groups are searched for the key
//! (a quoted term); the span lines whose business key, correlation id or event id (processed
//! or published) is the key give the trace ids; each trace is then read whole by searching
//! for its id, which also finds the spans of other traces that link to it (a replay older
//! than X-Ray's 30 days starts a new trace linked to the original); traces linked so are read
//! too, up to [`Lookup::max_traces`]. Other links (a batch record's span to its batch's span,
//! in a trace of its own) are not followed.

use std::collections::BTreeSet;

use eventrail_contract::trace::SpanLine;

use super::error::TraceError;
use super::logs::{GroupSearch, LogSearch, quoted_term};
use super::spans::{correlations_naming, is_redelivery_link, names_key, spans_in_message};

/// What to look up, where, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// A business key, correlation id or event id.
    pub key: String,
    /// The log groups to search.
    pub groups: Vec<String>,
    /// Unix milliseconds: older log events are not read.
    pub since_ms: i64,
    /// At most this many traces are read (a correlation id shared by many flows).
    pub max_traces: usize,
}

/// What the search found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// Every span of the traces found, each once.
    pub spans: Vec<SpanLine>,
    /// The trace ids, in the order found.
    pub trace_ids: Vec<String>,
    /// Log groups that do not exist (functions that never logged).
    pub missing_groups: Vec<String>,
    /// Span lines that did not decode.
    pub malformed: Vec<String>,
    /// Log events that matched the key's term (span lines or not).
    pub key_lines: usize,
    /// Traces left unread past [`Lookup::max_traces`].
    pub traces_left: usize,
}

/// Finds every span of the flows `lookup.key` names.
pub async fn find<S: LogSearch>(search: &S, lookup: &Lookup) -> Result<Found, TraceError> {
    let term = quoted_term(&lookup.key)?;
    let mut found = Found::default();
    let mut missing = BTreeSet::new();
    let mut queue: Vec<String> = Vec::new();
    let mut correlations: Vec<String> = Vec::new();
    for group in &lookup.groups {
        match search.search(group, &term, lookup.since_ms).await? {
            GroupSearch::MissingGroup => {
                missing.insert(group.clone());
            }
            GroupSearch::Found(events) => {
                found.key_lines += events.len();
                for event in events {
                    let read = spans_in_message(&event.message);
                    found.malformed.extend(read.malformed);
                    for span in read.spans.iter().filter(|s| names_key(s, &lookup.key)) {
                        if !queue.contains(&span.trace_id) {
                            queue.push(span.trace_id.clone());
                        }
                    }
                    for id in correlations_naming(&event.message, &lookup.key) {
                        if !correlations.contains(&id) {
                            correlations.push(id);
                        }
                    }
                }
            }
        }
    }
    // No span names the key (the events hold it elsewhere than the app declares): the flows
    // of the log lines that hold it, by their correlation ids.
    if queue.is_empty() {
        for correlation in correlations.iter().take(lookup.max_traces) {
            let correlation_term = quoted_term(correlation)?;
            for group in lookup.groups.iter().filter(|g| !missing.contains(*g)) {
                let GroupSearch::Found(events) = search
                    .search(group, &correlation_term, lookup.since_ms)
                    .await?
                else {
                    continue;
                };
                for event in events {
                    for span in spans_in_message(&event.message).spans {
                        if names_key(&span, correlation) && !queue.contains(&span.trace_id) {
                            queue.push(span.trace_id);
                        }
                    }
                }
            }
        }
    }
    let mut seen_spans = BTreeSet::new();
    let mut next = 0;
    while next < queue.len() {
        if found.trace_ids.len() >= lookup.max_traces {
            found.traces_left = queue.len() - next;
            break;
        }
        let trace_id = queue[next].clone();
        next += 1;
        found.trace_ids.push(trace_id.clone());
        let trace_term = quoted_term(&trace_id)?;
        for group in &lookup.groups {
            if missing.contains(group) {
                continue;
            }
            let GroupSearch::Found(events) =
                search.search(group, &trace_term, lookup.since_ms).await?
            else {
                missing.insert(group.clone());
                continue;
            };
            for event in events {
                let read = spans_in_message(&event.message);
                found.malformed.extend(read.malformed);
                for span in read.spans {
                    let linked = span
                        .links
                        .iter()
                        .any(|l| l.trace_id == trace_id && is_redelivery_link(l));
                    if span.trace_id != trace_id && !linked {
                        continue;
                    }
                    // Both directions of a redelivery link: the trace this span links to,
                    // and the trace of a span that links here.
                    let links = span.links.iter().filter(|l| is_redelivery_link(l));
                    for other in std::iter::once(&span.trace_id).chain(links.map(|l| &l.trace_id)) {
                        if !queue.contains(other) {
                            queue.push(other.clone());
                        }
                    }
                    if seen_spans.insert((span.trace_id.clone(), span.span_id.clone())) {
                        found.spans.push(span);
                    }
                }
            }
        }
    }
    found.missing_groups = missing.into_iter().collect();
    found.malformed.sort();
    found.malformed.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::trace::fixture;
    use crate::trace::logs::LogEvent;

    /// Log groups in memory; a pattern matches as a quoted term does (the text inside the
    /// quotes, case-sensitive); every search is recorded.
    struct Groups {
        groups: BTreeMap<String, Vec<String>>,
        asked: Mutex<Vec<(String, String)>>,
    }

    impl Groups {
        fn new(groups: &[(&str, Vec<String>)]) -> Self {
            Self {
                groups: groups
                    .iter()
                    .map(|(name, lines)| ((*name).to_owned(), lines.clone()))
                    .collect(),
                asked: Mutex::new(Vec::new()),
            }
        }
    }

    impl LogSearch for Groups {
        async fn search(
            &self,
            group: &str,
            pattern: &str,
            _since_ms: i64,
        ) -> Result<GroupSearch, TraceError> {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push((group.to_owned(), pattern.to_owned()));
            }
            let term = pattern.trim_matches('"');
            Ok(match self.groups.get(group) {
                None => GroupSearch::MissingGroup,
                Some(lines) => GroupSearch::Found(
                    lines
                        .iter()
                        .filter(|line| line.contains(term))
                        .map(|line| LogEvent {
                            message: line.clone(),
                        })
                        .collect(),
                ),
            })
        }
    }

    fn logs_of(spans: &[SpanLine], service: &str) -> Vec<String> {
        let mut lines = vec![format!("START RequestId: {service}")];
        lines.extend(
            spans
                .iter()
                .filter(|s| s.service == service)
                .map(fixture::log_line),
        );
        lines
    }

    fn lookup(key: &str, groups: &[&str]) -> Lookup {
        Lookup {
            key: key.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            since_ms: 0,
            max_traces: 10,
        }
    }

    #[tokio::test]
    async fn a_business_key_finds_its_trace_and_every_span_of_it() {
        let mut spans = fixture::stopped_flow();
        // Mailer processes its events in batches: its record span links to the batch's span,
        // in a trace of its own, which is not part of the flow.
        let mut batch = fixture::span(
            "mailer",
            "d0000000000000ba",
            None,
            "process app-mailer-buffer",
            eventrail_contract::trace::SpanKind::Consumer,
            (205, 225),
            serde_json::json!({}),
        );
        batch.trace_id = "88888888888888888888888888888888".to_owned();
        if let Some(record) = spans.iter_mut().find(|s| s.span_id == fixture::MAILER_HOP) {
            record.links.push(eventrail_contract::trace::SpanLink {
                trace_id: batch.trace_id.clone(),
                span_id: batch.span_id.clone(),
                attributes: BTreeMap::new(),
            });
        }
        let mut mailer = logs_of(&spans, "mailer");
        mailer.push(fixture::log_line(&batch));
        // A span of another flow whose text mentions the key but not as its key.
        let mut other = fixture::span(
            "sorting",
            "f000000000000001",
            None,
            "process Created",
            eventrail_contract::trace::SpanKind::Consumer,
            (0, 1),
            serde_json::json!({"eventrail.business_key": "p-10", "note": "after p-1"}),
        );
        other.trace_id = "99999999999999999999999999999999".to_owned();
        let mut sorting = logs_of(&spans, "sorting");
        sorting.push(fixture::log_line(&other));
        let groups = Groups::new(&[
            ("/aws/lambda/parcels", logs_of(&spans, "parcels")),
            ("/aws/lambda/sorting", sorting),
            ("/aws/lambda/billing", logs_of(&spans, "billing")),
            ("/aws/lambda/mailer", mailer),
        ]);
        let found = find(
            &groups,
            &lookup(
                "p-1",
                &[
                    "/aws/lambda/parcels",
                    "/aws/lambda/sorting",
                    "/aws/lambda/billing",
                    "/aws/lambda/mailer",
                    "/aws/lambda/idle",
                ],
            ),
        )
        .await
        .unwrap();
        assert_eq!(
            found.trace_ids,
            [fixture::TRACE],
            "the batch's trace is not read"
        );
        let mut ids: Vec<&str> = found.spans.iter().map(|s| s.span_id.as_str()).collect();
        ids.sort_unstable();
        let mut expected: Vec<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
        expected.sort_unstable();
        assert_eq!(
            ids, expected,
            "every span, the undecorated mailer's included"
        );
        assert_eq!(found.missing_groups, ["/aws/lambda/idle"]);
        let asked = groups.asked.lock().unwrap().clone();
        assert!(asked.contains(&(
            "/aws/lambda/mailer".into(),
            format!("\"{}\"", fixture::TRACE)
        )));
        assert!(asked.contains(&("/aws/lambda/parcels".into(), "\"p-1\"".into())));
        assert!(
            !asked
                .iter()
                .any(|(g, p)| g == "/aws/lambda/idle" && p.contains(fixture::TRACE)),
            "a missing group is not asked again: {asked:?}"
        );
    }

    #[tokio::test]
    async fn an_event_id_finds_the_trace_and_a_linked_replay_trace_is_followed() {
        let mut spans = fixture::stopped_flow();
        let replay = fixture::replay_trace();
        spans.extend(replay.clone());
        let groups = Groups::new(&[
            ("/aws/lambda/parcels", logs_of(&spans, "parcels")),
            ("/aws/lambda/billing", logs_of(&spans, "billing")),
        ]);
        // e-1 is only named by parcels' publish span; the replay trace links to the first.
        let found = find(
            &groups,
            &lookup("e-1", &["/aws/lambda/parcels", "/aws/lambda/billing"]),
        )
        .await
        .unwrap();
        assert_eq!(
            found.trace_ids,
            [fixture::TRACE, replay[0].trace_id.as_str()]
        );
        assert!(found.spans.iter().any(|s| s.span_id == replay[1].span_id));
    }

    #[tokio::test]
    async fn a_key_no_span_names_is_followed_through_the_correlation_id_of_log_lines_holding_it() {
        let spans: Vec<SpanLine> = fixture::stopped_flow()
            .into_iter()
            .map(|mut span| {
                span.attributes.remove("eventrail.business_key");
                span.attributes
                    .insert("eventrail.correlation_id".into(), "c-7".into());
                span
            })
            .collect();
        let mut billing = logs_of(&spans, "billing");
        billing.push(
            "{\"level\":\"INFO\",\"message\":\"charging\",\"parcel_id\":\"p-1\",\
             \"span\":{\"correlation_id\":\"c-7\"}}"
                .to_owned(),
        );
        let groups = Groups::new(&[
            ("/aws/lambda/parcels", logs_of(&spans, "parcels")),
            ("/aws/lambda/billing", billing),
        ]);
        let found = find(
            &groups,
            &lookup("p-1", &["/aws/lambda/parcels", "/aws/lambda/billing"]),
        )
        .await
        .unwrap();
        assert_eq!(found.trace_ids, [fixture::TRACE]);
        assert!(
            found
                .spans
                .iter()
                .any(|s| s.span_id == fixture::PARCELS_HOP)
        );
    }

    #[tokio::test]
    async fn a_key_named_only_in_other_log_lines_finds_no_trace() {
        let groups = Groups::new(&[(
            "/aws/lambda/parcels",
            vec!["{\"level\":\"INFO\",\"message\":\"took p-1\"}".to_owned()],
        )]);
        let found = find(&groups, &lookup("p-1", &["/aws/lambda/parcels"]))
            .await
            .unwrap();
        assert!(found.trace_ids.is_empty());
        assert_eq!(found.key_lines, 1);
        assert!(matches!(
            find(&groups, &lookup("a\"b", &["/aws/lambda/parcels"])).await,
            Err(TraceError::BadKey { .. })
        ));
    }
}
