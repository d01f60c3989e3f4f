//! End-to-end tests of tracing (issue 27) on the stack `cargo xtask test` deploys: what the
//! functions write into events (`detail.metadata.traceparent`, read back from the tap) and
//! the spans they log (one `{"eventrail_span": ...}` line per finished span, read back from
//! their CloudWatch Logs groups with FilterLogEvents, as `eventrail trace` reads them).
//!
//! What they show, per order of every demo scenario:
//! - every event carries a traceparent, and all of them one trace id: the order's;
//! - every function an event reaches (by the template's rules) logged a consumer span for it
//!   (`process <detail-type>`, `messaging.message.id` = the event id) in that trace, whose
//!   parent is the publish span that put the event on the bus (its `eventrail.event_ids`
//!   holds the event's id), so the spans form one tree under one root;
//! - an event delivered again continues the trace it was published in, under a span that
//!   says how (`redrive`, `replay`, `reput <detail-type>`).
//!
//! Spans are matched to their function by the log group they were read from.
//! LocalStack 4.13.1's FilterLogEvents (moto's) understands a quoted term, which is all these
//! tests and `eventrail trace` ask of it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::ops::gateway_recovered_for;
use eventrail_contract::trace::{SPAN_LINE_KEY, SpanKind, SpanLine, TraceParent, attr};
use eventrail_observe::{BusEvent, FlowReport, ObservedEvent, Router, Stack};
use eventrail_tests::{FLOW_DEADLINE, Placed, assert_exact, expected, finish, place, stack};
use events::scenarios::{Scenario, new_order_id};
use serde_json::{Value, json};

/// A span as one function logged it.
#[derive(Debug, Clone)]
struct Logged {
    /// The function whose log group held it (its display name: `inventory`).
    function: String,
    span: SpanLine,
}

impl Logged {
    fn attr(&self, name: &str) -> Option<&Value> {
        self.span.attributes.get(name)
    }

    fn attr_str(&self, name: &str) -> Option<&str> {
        self.attr(name).and_then(Value::as_str)
    }

    fn line(&self) -> String {
        format!(
            "{} {:?} `{}` {} parent {} {:?}",
            self.function,
            self.span.kind,
            self.span.name,
            self.span.span_id,
            self.span.parent_span_id.as_deref().unwrap_or("-"),
            self.span.attributes
        )
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Every line `function` logged since `since_ms`, read with the stock AWS CLI's
/// `logs filter-log-events` (which pages through all of them).
async fn log_lines(stack: &Stack, function: &str, since_ms: i64) -> Vec<String> {
    let name = stack.outputs.function_name(function).unwrap();
    let endpoint = std::env::var("EVENTRAIL_ENDPOINT").unwrap_or_default();
    let region = eventrail_observe::aws::region_or_default(None);
    let answer = tokio::process::Command::new(eventrail_tests::aws_cli())
        .args(["logs", "filter-log-events", "--output", "json"])
        .args(["--log-group-name", &format!("/aws/lambda/{name}")])
        .args(["--start-time", &since_ms.to_string()])
        .args(["--endpoint-url", endpoint.trim(), "--region", &region])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .await
        .unwrap_or_else(|e| panic!("running the aws CLI: {e}"));
    // A group appears with its function's first invocation: until then the CLI fails.
    if !answer.status.success() {
        return Vec::new();
    }
    let page: Value = serde_json::from_slice(&answer.stdout).unwrap_or_else(|e| {
        panic!(
            "aws logs filter-log-events printed no JSON ({e}): {}",
            String::from_utf8_lossy(&answer.stdout)
        )
    });
    page["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .map(str::to_owned)
        .collect()
}

/// The span a log line holds, if it is a span line.
fn span_of(line: &str) -> Option<SpanLine> {
    let start = line.find('{')?;
    let value: Value = serde_json::from_str(line[start..].trim()).ok()?;
    serde_json::from_value(value.get(SPAN_LINE_KEY)?.clone()).ok()
}

/// Every span any function logged since `since_ms`, each once (the functions' groups read one
/// after the other: the aws CLI is a Python process each).
async fn spans_since(stack: &Stack, since_ms: i64) -> Vec<Logged> {
    let mut seen = BTreeSet::new();
    let mut spans = Vec::new();
    for function in &stack.outputs.functions {
        for line in log_lines(stack, function, since_ms).await {
            let Some(span) = span_of(&line) else { continue };
            if seen.insert((span.trace_id.clone(), span.span_id.clone())) {
                spans.push(Logged {
                    function: function.clone(),
                    span,
                });
            }
        }
    }
    spans
}

/// The traceparent an event carries.
fn traceparent_of(event: &ObservedEvent) -> Option<TraceParent> {
    event
        .raw
        .pointer("/detail/metadata/traceparent")
        .and_then(Value::as_str)
        .and_then(|v| TraceParent::parse(v).ok())
}

/// The trace id (32 hex) every event of `report`'s flow carries; fails unless every event
/// has a traceparent and all of them the same trace id.
fn one_trace_id(report: &FlowReport, text: &str) -> String {
    let mut ids = BTreeSet::new();
    for event in report.flow.events() {
        let parent = traceparent_of(event).unwrap_or_else(|| {
            panic!(
                "{} {} carries no traceparent: {}\n{text}",
                event.detail_type, event.id, event.raw["detail"]["metadata"]
            )
        });
        ids.insert(format!("{:032x}", parent.trace_id));
    }
    assert_eq!(ids.len(), 1, "one trace id per order: {ids:?}\n{text}");
    ids.into_iter().next().unwrap_or_default()
}

/// The consumer spans of `event` logged by `function`: `process <detail-type>` spans whose
/// `messaging.message.id` is the event's id.
fn consumer_spans<'a>(
    spans: &'a [Logged],
    function: &str,
    event: &ObservedEvent,
) -> Vec<&'a Logged> {
    let name = format!("process {}", event.detail_type);
    spans
        .iter()
        .filter(|s| {
            s.function == function
                && s.span.name == name
                && s.attr_str(attr::MESSAGING_MESSAGE_ID) == Some(event.id.as_str())
        })
        .collect()
}

/// The (function, event) pairs of `report`'s flow: every function each event's rules reach.
fn deliveries<'a>(routes: &Router, report: &'a FlowReport) -> Vec<(String, &'a ObservedEvent)> {
    report
        .flow
        .events()
        .iter()
        .flat_map(|event| {
            routes
                .functions_for(&event.raw)
                .into_iter()
                .map(move |function| (function, event))
        })
        .collect()
}

/// Reads the spans logged since `since_ms` until every delivery of the flow has its consumer
/// span in `trace_id` (and `more` accepts the trace's spans), within the flow deadline;
/// returns (the trace's spans, every span read).
async fn wait_for_spans(
    stack: &Stack,
    trace_id: &str,
    since_ms: i64,
    wanted: &[(String, &ObservedEvent)],
    more: impl Fn(&[Logged]) -> bool,
) -> (Vec<Logged>, Vec<Logged>) {
    let started = Instant::now();
    loop {
        let all = spans_since(stack, since_ms).await;
        let spans: Vec<Logged> = all
            .iter()
            .filter(|s| s.span.trace_id == trace_id)
            .cloned()
            .collect();
        let complete = wanted
            .iter()
            .all(|(function, event)| !consumer_spans(&spans, function, event).is_empty());
        if (complete && more(&spans)) || started.elapsed() > FLOW_DEADLINE {
            return (spans, all);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

fn render(spans: &[Logged]) -> String {
    let mut lines: Vec<String> = spans.iter().map(Logged::line).collect();
    lines.sort();
    lines.join("\n")
}

/// The names of the spans that say an event was delivered again.
fn is_redelivery_span(span: &Logged) -> bool {
    ["redrive ", "replay ", "reput "]
        .iter()
        .any(|p| span.span.name.starts_with(p))
}

/// Checks the trace of one flow: one tree of spans, every delivery's consumer span a child
/// of the publish span of its event (through a redelivery span for an event delivered
/// again). `outside_root`: the span id a root may name as parent although no function logged
/// it (an event the test put itself, with trace context of its own). Returns the spans.
async fn assert_one_tree(
    stack: &Stack,
    routes: &Router,
    report: &FlowReport,
    since_ms: i64,
    outside_root: Option<&str>,
    more: impl Fn(&[Logged]) -> bool,
) -> (String, Vec<Logged>) {
    let text = report.render(Some(routes));
    let trace_id = one_trace_id(report, &text);
    let wanted = deliveries(routes, report);
    assert!(!wanted.is_empty(), "no function consumes the flow?\n{text}");
    let (spans, all) = wait_for_spans(stack, &trace_id, since_ms, &wanted, more).await;
    let shown = format!("{text}\nspans of trace {trace_id}:\n{}", render(&spans));
    let by_id: BTreeMap<&str, &Logged> =
        spans.iter().map(|s| (s.span.span_id.as_str(), s)).collect();
    // 100 % of hops: each delivery has its consumer span, a child of its event's publish span.
    for (function, event) in &wanted {
        let consumers = consumer_spans(&spans, function, event);
        assert!(
            !consumers.is_empty(),
            "{function} logged no `process {}` span for {} in trace {trace_id}\n{shown}",
            event.detail_type,
            event.id
        );
        let published_by = traceparent_of(event)
            .map(|p| format!("{:016x}", p.span_id))
            .unwrap_or_default();
        for consumer in consumers {
            assert_eq!(
                consumer.span.kind,
                SpanKind::Consumer,
                "{}",
                consumer.line()
            );
            let mut parent_id = consumer
                .span
                .parent_span_id
                .as_deref()
                .unwrap_or_else(|| panic!("{} has no parent\n{shown}", consumer.line()));
            let redelivered = by_id.get(parent_id).filter(|p| is_redelivery_span(p));
            if let Some(redelivery) = redelivered {
                parent_id = redelivery
                    .span
                    .parent_span_id
                    .as_deref()
                    .unwrap_or_else(|| panic!("{} has no parent\n{shown}", redelivery.line()));
            }
            assert_eq!(
                parent_id,
                published_by,
                "the parent of {} is the span the event's traceparent names\n{shown}",
                consumer.line()
            );
            if outside_root == Some(parent_id) {
                continue;
            }
            let publish = by_id.get(parent_id).unwrap_or_else(|| {
                panic!(
                    "the publish span {parent_id} of {} {} is not in the trace\n{shown}",
                    event.detail_type, event.id
                )
            });
            assert_eq!(
                publish.span.kind,
                SpanKind::Producer,
                "{}\n{shown}",
                publish.line()
            );
            assert!(
                publish.span.name.starts_with("publish "),
                "{}",
                publish.line()
            );
            if redelivered.is_none() && event.replay_name.is_none() {
                let ids = publish.attr(attr::EVENT_IDS).cloned().unwrap_or_default();
                assert!(
                    ids.as_array()
                        .is_some_and(|ids| ids.iter().any(|id| id == event.id.as_str())),
                    "the publish span's {} {ids} holds {}\n{shown}",
                    attr::EVENT_IDS,
                    event.id
                );
            }
        }
    }

    // A tree: one root (or the test's own outside parent), every other span's parent in the
    // trace, no cycle.
    let roots: Vec<&Logged> = spans
        .iter()
        .filter(|s| {
            s.span
                .parent_span_id
                .as_deref()
                .is_none_or(|p| !by_id.contains_key(p))
        })
        .collect();
    match outside_root {
        Some(outside) => {
            for root in &roots {
                assert_eq!(
                    root.span.parent_span_id.as_deref(),
                    Some(outside),
                    "a span whose parent is not in the trace: {}\n{shown}",
                    root.line()
                );
            }
        }
        None => assert_eq!(
            roots.len(),
            1,
            "one root: {:#?}\n{shown}",
            roots.iter().map(|r| r.line()).collect::<Vec<_>>()
        ),
    }
    for span in &spans {
        let mut at = span;
        for _ in 0..=spans.len() {
            match at.span.parent_span_id.as_deref().and_then(|p| by_id.get(p)) {
                Some(parent) => at = *parent,
                None => break,
            }
        }
        assert!(
            at.span
                .parent_span_id
                .as_deref()
                .is_none_or(|p| !by_id.contains_key(p)),
            "a cycle above {}\n{shown}",
            span.line()
        );
    }

    // Every span about the flow (naming its correlation id), whatever its trace, is in it.
    let correlated: Vec<&Logged> = all
        .iter()
        .filter(|s| s.attr_str(attr::CORRELATION_ID) == Some(report.flow.correlation_id.as_str()))
        .collect();
    assert!(
        !correlated.is_empty(),
        "no span names the correlation id\n{shown}"
    );
    for span in &correlated {
        assert_eq!(span.span.trace_id, trace_id, "{}\n{shown}", span.line());
    }
    (trace_id, spans)
}

/// Every scenario at once: each order's events and spans carry one trace id of its own, and
/// its spans form one tree whose consumer spans are children of the publish spans of their
/// events (fraud's branch, analytics and the buffered notifications included). Without
/// `OTEL_EXPORTER_OTLP_ENDPOINT` no function is told of a collector, and none complains
/// about one.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn every_order_of_every_scenario_is_one_trace_whose_spans_form_a_tree() {
    let stack = stack().await;
    let routes = eventrail_tests::routes().expect("infra/template.yaml");
    let since = now_ms() - 1_000;
    let mut watch = stack.watch().await.unwrap();
    let mut placed: Vec<Placed> = Vec::new();
    for scenario in Scenario::ALL {
        placed.push(place(&stack, &mut watch, scenario).await);
    }
    let reports = finish(&mut watch, &placed).await;
    let mut trace_ids = BTreeSet::new();
    for (placed, report) in placed.iter().zip(&reports) {
        assert_exact(placed, report);
        let (trace_id, spans) =
            assert_one_tree(&stack, &routes, report, since, None, |_| true).await;
        assert!(
            trace_ids.insert(trace_id.clone()),
            "{trace_id} is another order's"
        );
        let bytes: usize = spans
            .iter()
            .map(|s| {
                serde_json::to_string(&json!({SPAN_LINE_KEY: s.span})).map_or(0, |l| l.len() + 1)
            })
            .sum();
        keep(
            &format!("spans-{}.txt", placed.correlation_id),
            &format!(
                "{}: {} events, {} spans, {bytes} bytes of span lines\n",
                placed.title,
                report.flow.len(),
                spans.len()
            ),
        );
        // The root is the order's placing: the orders function's invocation.
        let functions: BTreeSet<&str> = spans.iter().map(|s| s.function.as_str()).collect();
        assert!(functions.contains("orders"), "{}", render(&spans));
        // Each consumer ran its handler under its consumer span.
        for consumer in spans.iter().filter(|s| {
            s.span.name.starts_with("process ") && s.attr_str(attr::RESULT) == Some("published")
        }) {
            let handle = format!(
                "handle {}",
                consumer.span.name.trim_start_matches("process ")
            );
            assert!(
                spans.iter().any(|s| s.span.name == handle
                    && s.function == consumer.function
                    && descends_from(&spans, s, &consumer.span.span_id)),
                "no `{handle}` under {}\n{}",
                consumer.line(),
                render(&spans)
            );
        }
    }
    watch.close().await.unwrap();
    no_function_is_told_of_a_collector(&stack, since).await;
}

/// Whether `span` has `ancestor` (a span id) above it.
fn descends_from(spans: &[Logged], span: &Logged, ancestor: &str) -> bool {
    let mut at = span.span.parent_span_id.clone();
    for _ in 0..=spans.len() {
        match at {
            Some(id) if id == ancestor => return true,
            Some(id) => {
                at = spans
                    .iter()
                    .find(|s| s.span.span_id == id)
                    .and_then(|s| s.span.parent_span_id.clone())
            }
            None => return false,
        }
    }
    false
}

/// No deployed function has an OTLP endpoint in its environment (so the runtime installs no
/// exporter: its unit tests show that without the variable nothing connects), and nothing a
/// function logged since `since_ms` besides its spans mentions an exporter or OTLP.
async fn no_function_is_told_of_a_collector(stack: &Stack, since_ms: i64) {
    for function in &stack.outputs.functions {
        let name = stack.outputs.function_name(function).unwrap();
        let config = stack
            .clients
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .unwrap();
        let variables = config
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        let otlp: Vec<&String> = variables
            .keys()
            .filter(|k| k.starts_with("OTEL_EXPORTER_OTLP"))
            .collect();
        assert!(otlp.is_empty(), "{function}: {otlp:?}");
        let complaints: Vec<String> = log_lines(stack, function, since_ms)
            .await
            .into_iter()
            .filter(|l| span_of(l).is_none())
            .filter(|l| {
                let lowered = l.to_lowercase();
                ["otlp", "exporter", "spans not sent", "collector"]
                    .iter()
                    .any(|word| lowered.contains(word))
            })
            .collect();
        assert!(
            complaints.is_empty(),
            "{function} logged about an exporter: {complaints:#?}"
        );
    }
}

/// `eventrail trace <order id>` (the real binary) prints the waterfall of a happy order: each
/// hop's function and event.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn eventrail_trace_prints_a_happy_order_s_waterfall_with_every_hop() {
    let stack = stack().await;
    let routes = eventrail_tests::routes().expect("infra/template.yaml");
    let since = now_ms() - 1_000;
    let mut watch = stack.watch().await.unwrap();
    let placed = place(&stack, &mut watch, Scenario::HappyPath).await;
    let reports = finish(&mut watch, std::slice::from_ref(&placed)).await;
    watch.close().await.unwrap();
    let report = &reports[0];
    assert_exact(&placed, report);
    // Every span logged before the command reads them.
    let (trace_id, _) = assert_one_tree(&stack, &routes, report, since, None, |_| true).await;
    let order_id = placed
        .accepted
        .as_ref()
        .map(|a| a.order_id.clone())
        .unwrap_or_default();

    let (text, json) = eventrail_trace(&stack, &order_id);
    let traces = json["traces"].as_array().cloned().unwrap_or_default();
    assert_eq!(traces.len(), 1, "one trace:\n{json:#}");
    assert_eq!(traces[0]["trace_id"], trace_id.as_str(), "{json:#}");
    for (function, event) in deliveries(&routes, report) {
        assert!(
            hop(&traces[0], &function, &event.id).is_some(),
            "no hop of {function} for {} {}:\n{text}",
            event.detail_type,
            event.id
        );
        let row = format!("{function} · {}", event.detail_type);
        assert!(text.contains(&row), "no row `{row}`:\n{text}");
    }
    assert_eq!(traces[0]["stopped"], json!([]), "{json:#}");
    assert!(text.contains(&trace_id), "the trace id:\n{text}");
    assert!(text.contains("no hop failed"), "{text}");
    assert!(!text.contains("stopped:"), "{text}");
}

/// `eventrail trace <key>` (the real binary) as text and as `--json`. The text, with how long
/// the command took, is kept under the target dir (`trace-tests/`) for the docs' examples.
fn eventrail_trace(stack: &Stack, key: &str) -> (String, Value) {
    try_eventrail_trace(stack, key).unwrap_or_else(|failure| panic!("{failure}"))
}

/// [`eventrail_trace`], or what the command said when it failed.
fn try_eventrail_trace(stack: &Stack, key: &str) -> Result<(String, Value), String> {
    let started = Instant::now();
    let (ok, text, stderr) = eventrail_tests::eventrail_on(stack, &["trace", key]);
    let took = started.elapsed();
    if !ok {
        return Err(format!("eventrail trace {key}:\n{text}{stderr}"));
    }
    keep(
        &format!("trace-{key}-{}.txt", now_ms()),
        &format!(
            "$ eventrail trace {key}   # took {} ms\n{text}{stderr}",
            took.as_millis()
        ),
    );
    let (ok, json_out, stderr) = eventrail_tests::eventrail_on(stack, &["trace", key, "--json"]);
    if !ok {
        return Err(format!("eventrail trace {key} --json:\n{json_out}{stderr}"));
    }
    let json = serde_json::from_str(&json_out)
        .map_err(|e| format!("--json printed no JSON ({e}):\n{json_out}"))?;
    Ok((text, json))
}

/// Writes `text` to `trace-tests/<name>` under the target dir (examples for the docs).
fn keep(name: &str, text: &str) {
    let dir = eventrail_tests::target_dir().join("trace-tests");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(name), text);
    }
}

/// The hop of `trace` (an `eventrail trace --json` trace) in which `function` processed
/// `event_id`.
fn hop<'a>(trace: &'a Value, function: &str, event_id: &str) -> Option<&'a Value> {
    trace["hops"]
        .as_array()?
        .iter()
        .find(|h| h["service"] == function && h["event_id"] == event_id)
}

/// The gateway-down order: `eventrail trace` shows its flow up to payments' failure queue;
/// once the gateway is back, `eventrail dlq redrive` sends the StockReserved again and the
/// order ships in the same trace, under a `redrive StockReserved` span that is a child of
/// the StockReserved's publish span. Reconfigures payments: runs alone (`cargo xtask test`).
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn a_redrive_after_the_gateway_outage_continues_the_order_s_trace() {
    let stack = stack().await;
    let routes = eventrail_tests::routes().expect("infra/template.yaml");
    let since = now_ms() - 1_000;
    let mut watch = stack.watch().await.unwrap();
    let order_id = new_order_id();
    let accepted =
        eventrail_tests::place_order(&stack, &Scenario::GatewayDown.command(&order_id)).await;
    let correlation_id = accepted.correlation_id.clone();
    let failure_queue = stack
        .outputs
        .failure_queue_url("payments")
        .unwrap()
        .to_owned();
    let queue_name = failure_queue
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();

    // After Lambda's retries, payments' failure queue holds the StockReserved (the watch
    // follows the order only after the redrive: it would take the record out).
    let started = Instant::now();
    let reserved_id = loop {
        let (_, stdout, _) = eventrail_tests::eventrail_on(
            &stack,
            &["dlq", "show", "payments", "--json", "--max", "1000"],
        );
        let record = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|r| r["correlation_id"] == correlation_id.as_str());
        if let Some(id) = record.as_ref().and_then(|r| r["event_id"].as_str()) {
            break id.to_owned();
        }
        assert!(
            started.elapsed() < FLOW_DEADLINE,
            "the record never reached payments' failure queue:\n{stdout}"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    // `eventrail trace` says where the flow stopped and which queue holds it (once the last
    // attempt's spans are in the log). Judged at the end, so that a failure here does not hide
    // whether the redrive continues the trace.
    let started = Instant::now();
    let stopped = loop {
        let attempt = try_eventrail_trace(&stack, &order_id);
        match attempt {
            Ok((text, json)) if text.contains("stopped:") => break Ok((text, json)),
            _ if started.elapsed() > SPANS_LOGGED => {
                break Err(format!(
                    "eventrail trace {order_id} never said where the flow stopped: {attempt:?}"
                ));
            }
            _ => tokio::time::sleep(Duration::from_secs(3)).await,
        }
    };

    gateway_recovered_for(&stack, Some(&order_id)).await;
    let (ok, stdout, stderr) = eventrail_tests::eventrail_on(
        &stack,
        &["dlq", "redrive", "payments", "--id", &reserved_id],
    );
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("1 redriven, 0 left, 0 failed"), "{stdout}");
    watch.follow(correlation_id.clone());
    watch
        .wait_until("the order to ship after the redrive", FLOW_DEADLINE, |w| {
            !w.flow(&correlation_id).of_type("OrderShipped").is_empty()
                && !w.messages_for(&correlation_id).is_empty()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    gateway_recovered_for(&stack, None).await;
    let report = watch.report(&correlation_id, format!("order {order_id}"));
    watch.close().await.unwrap();
    let reserved = report
        .flow
        .get(&reserved_id)
        .cloned()
        .unwrap_or_else(|| panic!("the tap has no {reserved_id}:\n{}", report.render(None)));

    let redrive_under_payments = |spans: &[Logged]| {
        spans
            .iter()
            .any(|s| s.function == "payments" && s.span.name == "redrive StockReserved")
    };
    let (trace_id, spans) = assert_one_tree(
        &stack,
        &routes,
        &report,
        since,
        None,
        redrive_under_payments,
    )
    .await;
    let shown = render(&spans);
    let redrive = spans
        .iter()
        .find(|s| s.function == "payments" && s.span.name == "redrive StockReserved")
        .unwrap_or_else(|| panic!("no `redrive StockReserved` span in {trace_id}:\n{shown}"));
    assert_eq!(
        redrive.attr_str(attr::REDELIVERY),
        Some("redrive"),
        "{}",
        redrive.line()
    );
    let reserved_parent = traceparent_of(&reserved).map(|p| format!("{:016x}", p.span_id));
    assert_eq!(
        redrive.span.parent_span_id, reserved_parent,
        "the redrive span is a child of StockReserved's publish span\n{shown}"
    );
    // The redriven hop succeeded and published PaymentCaptured, in the same trace.
    let redriven = spans
        .iter()
        .find(|s| s.span.parent_span_id.as_deref() == Some(redrive.span.span_id.as_str()))
        .unwrap_or_else(|| panic!("nothing under the redrive span:\n{shown}"));
    assert_eq!(redriven.span.name, "process StockReserved", "{shown}");
    assert_eq!(
        redriven.attr_str(attr::RESULT),
        Some("published"),
        "{shown}"
    );
    let captured = report.flow.of_type("PaymentCaptured");
    assert_eq!(captured.len(), 1, "{shown}");
    assert!(
        descends_from(
            &spans,
            spans
                .iter()
                .find(|s| s.span.name.starts_with("publish ")
                    && s.attr(attr::EVENT_IDS)
                        .is_some_and(|ids| ids.to_string().contains(&captured[0].id)))
                .unwrap_or_else(|| panic!("no publish span of PaymentCaptured:\n{shown}")),
            &redrive.span.span_id
        ),
        "PaymentCaptured was published under the redrive\n{shown}"
    );

    // `eventrail trace` now follows the order to its shipping, through the redrive.
    let (text, json) = eventrail_trace(&stack, &order_id);
    let traces = json["traces"].as_array().cloned().unwrap_or_default();
    assert_eq!(traces.len(), 1, "one trace:\n{json:#}");
    let redriven_hop = traces[0]["hops"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["service"] == "payments" && h["redelivery"] == "redrive")
        .unwrap_or_else(|| panic!("no redriven payments hop:\n{text}"));
    assert_eq!(redriven_hop["result"], "published", "{text}");
    assert!(
        hop(&traces[0], "shipping", &captured[0].id).is_some(),
        "shipping's hop of PaymentCaptured:\n{text}"
    );
    assert!(text.contains("shipping · PaymentCaptured"), "{text}");
    assert!(text.contains("redrive"), "{text}");
    assert_eq!(
        traces[0]["stopped"],
        json!([]),
        "the flow went on:\n{json:#}"
    );

    // Before the redrive, `eventrail trace` showed the flow up to the failure queue.
    let (text, json) = stopped.unwrap_or_else(|failure| panic!("{failure}"));
    let traces = json["traces"].as_array().cloned().unwrap_or_default();
    assert_eq!(traces.len(), 1, "one trace:\n{json:#}");
    let stops = traces[0]["stopped"].as_array().cloned().unwrap_or_default();
    assert_eq!(stops.len(), 1, "one stop:\n{json:#}");
    assert_eq!(stops[0]["service"], "payments", "{json:#}");
    assert_eq!(stops[0]["detail_type"], "StockReserved", "{json:#}");
    assert_eq!(stops[0]["event_id"], reserved_id.as_str(), "{json:#}");
    assert!(
        stops[0]["failure_queue"]
            .as_str()
            .is_some_and(|q| q.contains(&queue_name)),
        "held by {queue_name}:\n{json:#}"
    );
    let stop_line = format!("stopped: payments · StockReserved (event {reserved_id})");
    assert!(text.contains(&stop_line), "`{stop_line}`:\n{text}");
    assert!(text.contains(&queue_name), "{text}");
    assert!(text.contains("inventory · OrderPlaced"), "{text}");
    assert!(text.contains("payments · StockReserved"), "{text}");
}

/// How long after a failure record is in its queue the spans of the attempts that led to it
/// may still be on their way to the logs.
const SPANS_LOGGED: Duration = Duration::from_secs(60);

/// A minute between about 2 and 20 hours ago that no other test publishes in.
fn private_past_minute() -> (SystemTime, SystemTime) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let bytes = uuid::Uuid::new_v4();
    let offset_minutes =
        120 + u64::from(bytes.as_bytes()[0]) * 4 + u64::from(bytes.as_bytes()[1] % 4);
    let minute = (now / 60 - offset_minutes) * 60;
    (
        UNIX_EPOCH + Duration::from_secs(minute),
        UNIX_EPOCH + Duration::from_secs(minute + 30),
    )
}

/// A traceparent of the test's own, for a trace that started `age` ago (the trace id's first
/// 32 bits are its start, X-Ray's way).
fn own_traceparent(age: Duration) -> TraceParent {
    let started = SystemTime::now()
        .checked_sub(age)
        .unwrap_or(UNIX_EPOCH)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = u128::from_be_bytes(*uuid::Uuid::new_v4().as_bytes()) >> 32;
    TraceParent {
        trace_id: (u128::from(started as u32) << 96) | random.max(1),
        span_id: u64::from_be_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8]
                .try_into()
                .unwrap_or([1; 8]),
        )
        .max(1),
        sampled: true,
    }
}

/// An archive replay continues the trace of the events it delivers again: the replayed
/// OrderPlaced is processed under a `replay OrderPlaced` span whose parent is the span its
/// traceparent names, and the flow it re-runs stays in the trace. A replayed event whose
/// trace X-Ray would refuse (over 30 days old) starts a new trace linked to the original.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn an_archive_replay_continues_the_trace_of_the_events_it_delivers_again() {
    let stack = stack().await;
    let routes = eventrail_tests::routes().expect("infra/template.yaml");
    let since = now_ms() - 1_000;
    let mut watch = stack.watch().await.unwrap();
    let (minute_start, at) = private_past_minute();
    let fresh = own_traceparent(Duration::from_secs(60));
    let old = own_traceparent(Duration::from_secs(40 * 24 * 3600));
    let mut flows = Vec::new();
    for (label, parent) in [("fresh", fresh), ("old", old)] {
        let order_id = new_order_id();
        let command = Scenario::HappyPath.command(&order_id);
        let correlation_id = format!("corr-trace-{label}-{order_id}");
        let detail = json!({
            "metadata": {"schema_version": 1, "correlation_id": correlation_id,
                         "causation_id": null, "idempotency_key": format!("k-trace-{order_id}"),
                         "traceparent": parent.to_string()},
            "data": {"order": command.order},
        });
        watch.follow(correlation_id.clone());
        stack
            .put_event(&BusEvent {
                source: "eventrail.orders".into(),
                detail_type: "OrderPlaced".into(),
                detail,
                time: Some(at),
            })
            .await
            .unwrap();
        flows.push((
            Placed {
                title: format!("order {order_id} · {label} trace, published in the past"),
                correlation_id,
                expected: expected(Scenario::HappyPath),
                accepted: None,
            },
            parent,
        ));
    }
    let placed: Vec<Placed> = flows.iter().map(|(p, _)| p.clone()).collect();
    let reports = finish(&mut watch, &placed).await;
    for ((placed, parent), report) in flows.iter().zip(&reports) {
        assert_exact(placed, report);
        let outside = format!("{:016x}", parent.span_id);
        let (trace_id, _) =
            assert_one_tree(&stack, &routes, report, since, Some(&outside), |_| true).await;
        assert_eq!(
            trace_id,
            format!("{:032x}", parent.trace_id),
            "the event's own trace"
        );
    }

    let name = format!("trace-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let outcome = stack
        .replay(
            &name,
            minute_start,
            minute_start + Duration::from_secs(59),
            &[],
            FLOW_DEADLINE,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.state, "COMPLETED", "{outcome:?}");
    watch
        .wait_until("both replayed flows to ship again", FLOW_DEADLINE, |w| {
            placed
                .iter()
                .all(|p| w.flow(&p.correlation_id).of_type("OrderShipped").len() >= 2)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;

    // The fresh trace goes on: the replayed copy's consumers are under `replay OrderPlaced`.
    let (placed_fresh, parent) = &flows[0];
    let report = watch.report(&placed_fresh.correlation_id, "fresh, after the replay");
    let outside = format!("{:016x}", parent.span_id);
    let has_replay_span =
        |spans: &[Logged]| spans.iter().any(|s| s.span.name == "replay OrderPlaced");
    let (_, spans) = assert_one_tree(
        &stack,
        &routes,
        &report,
        since,
        Some(&outside),
        has_replay_span,
    )
    .await;
    let shown = render(&spans);
    let replayed = report
        .flow
        .events()
        .iter()
        .find(|e| e.replay_name.as_deref() == Some(name.as_str()))
        .unwrap_or_else(|| panic!("no replayed OrderPlaced:\n{}", report.render(None)));
    for function in routes.functions_for(&replayed.raw) {
        let consumer = consumer_spans(&spans, &function, replayed);
        let replay = consumer
            .iter()
            .find_map(|c| {
                spans.iter().find(|s| {
                    Some(s.span.span_id.as_str()) == c.span.parent_span_id.as_deref()
                        && s.span.name == "replay OrderPlaced"
                })
            })
            .unwrap_or_else(|| panic!("{function}: no `replay OrderPlaced` parent:\n{shown}"));
        assert_eq!(
            replay.attr_str(attr::REDELIVERY),
            Some("replay"),
            "{}",
            replay.line()
        );
        assert_eq!(
            replay.attr_str(attr::REPLAY_NAME),
            Some(name.as_str()),
            "{}",
            replay.line()
        );
        assert_eq!(
            replay.span.parent_span_id.as_deref(),
            Some(outside.as_str()),
            "{shown}"
        );
    }
    watch.close().await.unwrap();

    // The old trace is not continued: the replayed copy's consumer spans are in a new trace
    // with a link to the original traceparent.
    let (placed_old, old) = &flows[1];
    let old_trace = format!("{:032x}", old.trace_id);
    let old_span = format!("{:016x}", old.span_id);
    let started = Instant::now();
    let linked = loop {
        let linked: Vec<Logged> = spans_since(&stack, since)
            .await
            .into_iter()
            .filter(|s| s.span.trace_id != old_trace)
            .filter(|s| {
                s.span
                    .links
                    .iter()
                    .any(|l| l.trace_id == old_trace && l.span_id == old_span)
            })
            .collect();
        if !linked.is_empty() || started.elapsed() > FLOW_DEADLINE {
            break linked;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    assert!(
        !linked.is_empty(),
        "no span of a new trace links to {old_trace}/{old_span} ({})",
        placed_old.title
    );
    for span in &linked {
        assert_eq!(
            span.span.links[0].attributes.get(attr::REDELIVERY),
            Some(&json!("replay")),
            "{}",
            span.line()
        );
    }
}

/// `eventrail put` of an event copied from the bus puts it again in its own trace: its
/// consumers' spans are under `reput <detail-type>` spans, children of the original publish
/// span.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn eventrail_put_of_a_stored_event_continues_its_trace() {
    let stack = stack().await;
    let routes = eventrail_tests::routes().expect("infra/template.yaml");
    let since = now_ms() - 1_000;
    let mut watch = stack.watch().await.unwrap();
    let placed = place(&stack, &mut watch, Scenario::OutOfStock).await;
    let reports = finish(&mut watch, std::slice::from_ref(&placed)).await;
    let report = &reports[0];
    assert_exact(&placed, report);
    let unavailable = report.flow.of_type("StockUnavailable")[0].clone();

    // The tap's copy, as an operator would save it, put again with the real binary.
    let file = eventrail_tests::target_dir()
        .join("trace-tests")
        .join(format!("{}.json", unavailable.id));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, serde_json::to_vec_pretty(&unavailable.raw).unwrap()).unwrap();
    let (ok, stdout, stderr) =
        eventrail_tests::eventrail_on(&stack, &["put", &file.to_string_lossy()]);
    assert!(ok, "{stdout}{stderr}");
    watch
        .wait_until("the put copy", FLOW_DEADLINE, |w| {
            w.flow(&placed.correlation_id)
                .of_type("StockUnavailable")
                .len()
                >= 2
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventrail_tests::settle(&mut watch).await;
    let report = watch.report(&placed.correlation_id, "after the put");
    watch.close().await.unwrap();
    let copy = report
        .flow
        .of_type("StockUnavailable")
        .into_iter()
        .find(|e| e.id != unavailable.id)
        .cloned()
        .unwrap_or_else(|| panic!("{}", report.render(None)));
    assert_eq!(
        copy.raw.pointer("/detail/metadata/traceparent"),
        unavailable.raw.pointer("/detail/metadata/traceparent"),
        "the copy keeps its traceparent"
    );
    assert_eq!(
        copy.raw
            .pointer("/detail/metadata/tracestate")
            .and_then(Value::as_str)
            .and_then(|s| eventrail_contract::trace::redelivery(Some(s))),
        Some(eventrail_contract::trace::Redelivery::Reput),
        "{}",
        copy.raw["detail"]["metadata"]
    );
    let reput = |spans: &[Logged]| {
        spans
            .iter()
            .filter(|s| s.span.name == "reput StockUnavailable")
            .count()
            >= routes.functions_for(&copy.raw).len()
    };
    let (_, spans) = assert_one_tree(&stack, &routes, &report, since, None, reput).await;
    let shown = render(&spans);
    let published_by = traceparent_of(&unavailable).map(|p| format!("{:016x}", p.span_id));
    for function in routes.functions_for(&copy.raw) {
        let consumer = consumer_spans(&spans, &function, &copy);
        assert!(
            consumer.iter().any(|c| spans.iter().any(|s| {
                Some(s.span.span_id.as_str()) == c.span.parent_span_id.as_deref()
                    && s.span.name == "reput StockUnavailable"
                    && s.attr_str(attr::REDELIVERY) == Some("reput")
                    && s.span.parent_span_id == published_by
            })),
            "{function}: the copy is processed under `reput StockUnavailable`:\n{shown}"
        );
    }
}
