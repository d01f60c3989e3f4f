//! `eventrail graph` on the reference system: its nodes and edges (the choreography
//! orders -> inventory -> payments -> shipping -> notifications, fraud's filtered rule,
//! analytics' catch-all, the failure queues and the outbox), the order the Mermaid text
//! reads in, the focused views, the DOT and SVG renderings, and the picture embedded in
//! README.md being the generated one. On a small system with every trigger
//! (`fixtures/lint/triggers`): the HTTP route, the schedule and the source queue that start
//! producers, the buffered consumer's rule -> buffer -> function path with its cap, their
//! shapes, the focused views through the buffer, and the catalog pages' trigger lines.

use eventrail_generate::Generate;
use eventrail_model::System;
use eventrail_views::docs::embedded_graph;
use eventrail_views::flow::{EdgeKind, Focus, Graph, NodeKind};

fn system() -> System {
    System::load(eventrail_tests::repo()).expect("the reference system loads")
}

fn graph(focus: Focus) -> Graph {
    Graph::build(&system(), &focus).expect("graph builds")
}

#[test]
fn the_choreography_is_a_path_of_the_graph() {
    let g = graph(Focus::All);
    let path = [
        "cmd_PlaceOrder",
        "fn_orders",
        "ev_OrderPlaced",
        "rule_InventoryOrderPlaced",
        "fn_inventory",
        "ev_StockReserved",
        "rule_PaymentsStockReserved",
        "fn_payments",
        "ev_PaymentCaptured",
        "rule_ShippingPaymentCaptured",
        "fn_shipping",
        "ev_OrderShipped",
        "rule_NotificationsCustomerOutcomes",
        "fn_notifications",
        "res_OutboxQueue",
    ];
    // A buffered notifications is reached through its buffer queue, never by its rule directly.
    let system = system();
    let buffered = matches!(
        system.trigger("notifications"),
        Some(eventrail_model::FunctionTrigger::Buffered(_))
    );
    let mut path: Vec<&str> = path.to_vec();
    if buffered {
        let at = path.iter().position(|n| *n == "fn_notifications").unwrap();
        path.insert(at, "q_NotificationsBufferQueue");
        assert!(!g.has_edge("rule_NotificationsCustomerOutcomes", "fn_notifications"));
    }
    for pair in path.windows(2) {
        assert!(
            g.has_edge(pair[0], pair[1]),
            "no edge {} -> {}",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(g.node("fn_orders").unwrap().kind, NodeKind::Producer);
    assert_eq!(g.node("cmd_PlaceOrder").unwrap().kind, NodeKind::Command);
    assert_eq!(
        g.node("res_OutboxQueue").unwrap().label,
        "OutboxQueue (SQS FIFO)"
    );
    // Side branches: the failure outcomes also reach notifications.
    for event in ["ev_StockUnavailable", "ev_PaymentFailed"] {
        assert!(
            g.has_edge(event, "rule_NotificationsCustomerOutcomes"),
            "{event}"
        );
    }
    // Nothing reaches a function it should not.
    assert!(!g.has_edge("ev_OrderPlaced", "rule_PaymentsStockReserved"));
    assert!(!g.has_edge("ev_StockUnavailable", "rule_PaymentsStockReserved"));
}

#[test]
fn rule_edges_carry_the_filter_and_the_catch_all_is_one_edge() {
    let g = graph(Focus::All);
    let fraud = g
        .edges
        .iter()
        .find(|e| e.from == "ev_OrderPlaced" && e.to == "rule_FraudSuspiciousOrderPlaced")
        .expect("OrderPlaced reaches fraud's rule");
    assert_eq!(
        fraud.label.as_deref(),
        Some("total_cents > 100000 or shipping_address.country not in [US, CA, GB, …]")
    );
    let all: Vec<_> = g
        .edges
        .iter()
        .filter(|e| e.to == "rule_AnalyticsAppEvents")
        .collect();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].from, "all_events");
    assert_eq!(
        all[0].label.as_deref(),
        Some("source starts with eventrail.")
    );
}

#[test]
fn every_function_has_its_failure_queues() {
    let system = system();
    let g = Graph::build(&system, &Focus::All).unwrap();
    for f in &system.app.functions {
        let id = f.logical_id();
        let fails = g.edges.iter().any(|e| {
            e.from == format!("fn_{}", f.name.replace('-', "_"))
                && e.kind == EdgeKind::Fails
                && e.to == format!("q_{id}FailureQueue")
        });
        assert!(fails, "{} has no failure queue edge", f.name);
        if f.declaration.is_consumer() {
            let dlq = g
                .edges
                .iter()
                .any(|e| e.kind == EdgeKind::Undeliverable && e.to == format!("q_{id}DeliveryDlq"));
            assert!(dlq, "{} has no delivery DLQ edge", f.name);
        }
    }
}

#[test]
fn the_mermaid_text_reads_in_the_order_the_choreography_runs() {
    let text = graph(Focus::All).to_mermaid();
    assert!(text.starts_with("flowchart LR\n"), "{text}");
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in\n{text}"))
    };
    let inventory = at("fn_inventory --> ev_StockReserved");
    let payments = at("fn_payments --> ev_PaymentCaptured");
    let shipping = at("fn_shipping --> ev_OrderShipped");
    assert!(inventory < payments && payments < shipping, "{text}");
    assert!(at("subgraph g_inventory") < at("subgraph g_payments"));
    assert!(at("subgraph g_payments") < at("subgraph g_shipping"));
    assert!(text.contains(
        "ev_OrderPlaced -->|\"total_cents > 100000 or shipping_address.country not in [US, CA, GB, …]\"| rule_FraudSuspiciousOrderPlaced"
    ));
    assert!(text.contains("fn_inventory -.->|\"fails\"| q_InventoryFailureQueue"));
}

#[test]
fn focused_views() {
    let g = graph(Focus::Event("StockReserved".into()));
    for id in [
        "fn_inventory",
        "ev_StockReserved",
        "rule_PaymentsStockReserved",
        "fn_payments",
        "ev_PaymentCaptured",
    ] {
        assert!(g.node(id).is_some(), "{id} missing around StockReserved");
    }
    for id in ["fn_shipping", "fn_fraud", "ev_OrderPlaced"] {
        assert!(
            g.node(id).is_none(),
            "{id} should not be around StockReserved"
        );
    }
    let g = graph(Focus::Function("fraud".into()));
    for id in [
        "fn_orders",
        "ev_OrderPlaced",
        "rule_FraudSuspiciousOrderPlaced",
        "fn_fraud",
        "ev_FraudSuspected",
        "q_FraudFailureQueue",
    ] {
        assert!(g.node(id).is_some(), "{id} missing around fraud");
    }
    assert!(g.node("fn_payments").is_none());
    let error = Graph::build(&system(), &Focus::Function("nope".into())).unwrap_err();
    assert!(error.to_string().contains("inventory"), "{error}");
    let error = Graph::build(&system(), &Focus::Event("Nope".into())).unwrap_err();
    assert!(error.to_string().contains("OrderPlaced"), "{error}");
}

#[test]
fn dot_and_svg() {
    let g = graph(Focus::All);
    let dot = g.to_dot();
    assert!(dot.starts_with("digraph eventrail {"));
    assert!(dot.contains("subgraph cluster_g_inventory"));
    assert!(dot.contains("fn_inventory -> ev_StockReserved;"));
    let svg = g.to_svg().expect("svg renders");
    assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    for name in [
        "inventory",
        "payments",
        "shipping",
        "OrderPlaced",
        "rule SuspiciousOrderPlaced",
    ] {
        assert!(svg.contains(name), "{name} not in the SVG");
    }
}

#[test]
fn the_docs_embed_the_generated_picture() {
    let mermaid = graph(Focus::All).to_mermaid();
    let text = std::fs::read_to_string(eventrail_tests::repo().join("README.md")).unwrap();
    let embedded =
        embedded_graph(&text).expect("README.md has no embedded graph between the markers");
    assert!(
        embedded == mermaid,
        "the graph in README.md is stale: run `cargo run -p eventrail -- infra generate`"
    );
}

#[test]
fn the_command_prints_a_flowchart() {
    let out =
        eventrail_tests::eventrail(&["graph".as_ref(), "--format".as_ref(), "mermaid".as_ref()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("flowchart"), "{text}");
    let inventory = text.find("fn_inventory -->").unwrap();
    let payments = text.find("fn_payments -->").unwrap();
    let shipping = text.find("fn_shipping -->").unwrap();
    assert!(inventory < payments && payments < shipping);
    let out =
        eventrail_tests::eventrail(&["graph".as_ref(), "--function".as_ref(), "nope".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("function `nope` is not in the system"));
}

/// A chain of 30 functions (f01 consumes the producer's event, each next one the event of the
/// one before) plus a catch-all consumer, built from the lint fixture's clean system.
fn thirty_functions() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eventrail-graph-30-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let clean = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lint/clean");
    let copy = |from: &str, to: &str| {
        let to = dir.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(clean.join(from), to).unwrap();
    };
    for file in [
        "Cargo.toml",
        "infra/template.yaml",
        "events/consumers.json",
        "events/schemas/order-placed.json",
        "functions/checkout/Cargo.toml",
    ] {
        copy(file, file);
    }
    std::fs::create_dir_all(dir.join("events/samples")).unwrap();
    let mut events = vec![
        serde_json::json!({"detail-type": "OrderPlaced", "source": "mini.checkout", "version": 1, "schema": "schemas/order-placed.json"}),
    ];
    let manifest = |name: &str, body: String| {
        let path = dir.join(format!("functions/{name}/Cargo.toml"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[package.metadata.eventrail]\n{body}\n"
        );
        std::fs::write(path, text).unwrap();
    };
    for i in 1..=30 {
        let name = format!("f{i:02}");
        let event = format!("Step{i:02}Done");
        let consumed = if i == 1 {
            "OrderPlaced".to_owned()
        } else {
            format!("Step{:02}Done", i - 1)
        };
        if i == 30 {
            manifest(&name, format!("consumes = [\"{consumed}\"]"));
            continue;
        }
        copy(
            "events/schemas/invoiced.json",
            &format!("events/schemas/step-{i:02}.json"),
        );
        events.push(serde_json::json!({"detail-type": event, "source": format!("mini.{name}"), "version": 1, "schema": format!("schemas/step-{i:02}.json")}));
        manifest(
            &name,
            format!("consumes = [\"{consumed}\"]\nemits = [\"{event}\"]"),
        );
    }
    manifest("audit", "consumes = [\"*\"]".to_owned());
    std::fs::write(
        dir.join("events/catalog.json"),
        serde_json::to_string_pretty(&serde_json::json!({ "events": events })).unwrap(),
    )
    .unwrap();
    eventrail_model::App::load(&dir)
        .and_then(|app| app.write_generated())
        .expect("the 30-function system generates");
    dir
}

#[test]
fn thirty_functions_stay_readable() {
    let dir = thirty_functions();
    let system = System::load(&dir).expect("loads");
    let g = Graph::build(&system, &Focus::All).unwrap();
    // One group per function, in the order the chain runs, the catch-all last.
    let groups: Vec<&str> = g.groups.iter().map(|x| x.label.as_str()).collect();
    let mut expected = vec!["checkout (direct invoke)".to_owned()];
    expected.extend((1..=30).map(|i| format!("f{i:02}")));
    expected.push("audit".to_owned());
    assert_eq!(groups, expected);
    // Only the command and the "every event" node stand outside the groups.
    let loose: Vec<&str> = g
        .nodes
        .iter()
        .filter(|n| n.group.is_none())
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(loose, vec!["cmd_Checkout", "all_events"]);
    // The catch-all is one edge, not 31: edges grow linearly with the functions.
    assert_eq!(
        g.edges
            .iter()
            .filter(|e| e.to == "rule_AuditAppEvents")
            .count(),
        1
    );
    assert!(g.edges.len() <= 7 * 32, "{} edges", g.edges.len());
    let text = g.to_mermaid();
    let positions: Vec<usize> = (1..=30)
        .map(|i| text.find(&format!("subgraph g_f{i:02}[")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    let lint = eventrail_check::lint::lint(&system, None).unwrap();
    assert!(lint.is_clean(), "{:#?}", lint.findings);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The lint fixture with every trigger (`clean/` with `triggers/` laid over it), in a
/// scratch folder, with its generated files regenerated.
fn triggers_system() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "eventrail-graph-triggers-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lint");
    fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy_tree(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
    copy_tree(&fixtures.join("clean"), &dir);
    copy_tree(&fixtures.join("triggers"), &dir);
    eventrail_model::App::load(&dir)
        .and_then(|app| app.write_generated())
        .expect("the system with every trigger generates");
    dir
}

fn edge_label<'g>(g: &'g Graph, from: &str, to: &str) -> Option<&'g str> {
    g.edges
        .iter()
        .find(|e| e.from == from && e.to == to)
        .unwrap_or_else(|| panic!("no edge {from} -> {to}: {:#?}", g.edges))
        .label
        .as_deref()
}

#[test]
fn every_trigger_is_a_node_with_its_edge_to_the_function() {
    let dir = triggers_system();
    let system = System::load(&dir).expect("loads");
    let g = Graph::build(&system, &Focus::All).unwrap();

    let http = g.node("http_POST__checkout").expect("the route's node");
    assert_eq!(http.kind, NodeKind::HttpRoute);
    assert_eq!(http.label, "POST /checkout (iam)");
    assert!(g.has_edge("http_POST__checkout", "fn_checkout"));
    // The direct invoke stays: its command still reaches the function.
    assert!(g.has_edge("cmd_Checkout", "fn_checkout"));

    let schedule = g.node("sched_tally").expect("the schedule's node");
    assert_eq!(schedule.kind, NodeKind::Schedule);
    assert_eq!(schedule.label, "rate(1 day)");
    assert!(g.has_edge("sched_tally", "fn_tally"));

    let source = g
        .node("q_IntakeSourceQueue")
        .expect("the source queue's node");
    assert_eq!(source.kind, NodeKind::SourceQueue);
    assert_eq!(
        edge_label(&g, "q_IntakeSourceQueue", "fn_intake"),
        Some("batch 5")
    );

    // The buffered consumer: rule -> buffer -> function, the cap on the buffer's edge, and
    // no edge from the rule straight to the function.
    let buffer = g.node("q_MailerBufferQueue").expect("the buffer's node");
    assert_eq!(buffer.kind, NodeKind::BufferQueue);
    assert_eq!(buffer.group.as_deref(), Some("g_mailer"));
    assert!(g.has_edge("ev_Invoiced", "rule_MailerInvoiced"));
    assert!(g.has_edge("rule_MailerInvoiced", "q_MailerBufferQueue"));
    assert_eq!(
        edge_label(&g, "q_MailerBufferQueue", "fn_mailer"),
        Some("batch 10, max 2")
    );
    assert!(!g.has_edge("rule_MailerInvoiced", "fn_mailer"));
    // The queues' redrive to the function's failure queue, after the receives they allow;
    // the schedule's undeliverable firings to the scheduled function's failure queue.
    for (queue, failure) in [
        ("q_MailerBufferQueue", "q_MailerFailureQueue"),
        ("q_IntakeSourceQueue", "q_IntakeFailureQueue"),
    ] {
        assert_eq!(edge_label(&g, queue, failure), Some("after 3 receives"));
    }
    assert_eq!(
        edge_label(&g, "sched_tally", "q_TallyFailureQueue"),
        Some("undeliverable")
    );
    assert!(g.has_edge("rule_MailerInvoiced", "q_MailerDeliveryDlq"));
    assert!(g.has_edge("fn_mailer", "q_MailerFailureQueue"));
    for (from, kind) in [
        ("http_POST__checkout", EdgeKind::Triggers),
        ("sched_tally", EdgeKind::Triggers),
        ("q_IntakeSourceQueue", EdgeKind::Triggers),
        ("q_MailerBufferQueue", EdgeKind::Triggers),
    ] {
        assert!(
            g.edges.iter().any(|e| e.from == from && e.kind == kind),
            "{from}"
        );
    }

    let groups: Vec<&str> = g.groups.iter().map(|x| x.label.as_str()).collect();
    for label in [
        "checkout (HTTP and direct invoke)",
        "tally (scheduled)",
        "intake (queue)",
        "mailer (buffered)",
        "billing",
    ] {
        assert!(groups.contains(&label), "{label} not in {groups:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_trigger_kind_has_its_shape_and_style() {
    let dir = triggers_system();
    let system = System::load(&dir).expect("loads");
    let g = Graph::build(&system, &Focus::All).unwrap();
    let mermaid = g.to_mermaid();
    for needle in [
        "http_POST__checkout[/\"POST /checkout (iam)\"/]",
        "sched_tally[[\"rate(1 day)\"]]",
        "q_IntakeSourceQueue[(\"IntakeSourceQueue (SQS)\")]",
        "q_MailerBufferQueue[(\"MailerBufferQueue (SQS buffer)\")]",
        "rule_MailerInvoiced --> q_MailerBufferQueue",
        "q_MailerBufferQueue ==>|\"batch 10, max 2\"| fn_mailer",
        "http_POST__checkout ==> fn_checkout",
        "class http_POST__checkout http",
        "class sched_tally schedule",
        "class q_IntakeSourceQueue sourceQueue",
        "class q_MailerBufferQueue buffer",
    ] {
        assert!(mermaid.contains(needle), "{needle:?} not in\n{mermaid}");
    }
    let dot = g.to_dot();
    for needle in [
        "http_POST__checkout [label=\"POST /checkout (iam)\", shape=\"parallelogram\"",
        "sched_tally [label=\"rate(1 day)\", shape=\"component\"",
        "q_MailerBufferQueue -> fn_mailer [label=\"batch 10, max 2\", penwidth=2];",
    ] {
        assert!(dot.contains(needle), "{needle:?} not in\n{dot}");
    }
    let svg = g.to_svg().expect("svg renders");
    for needle in ["POST /checkout (iam)", "rate(1 day)", "MailerBufferQueue"] {
        assert!(svg.contains(needle), "{needle} not in the SVG");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn focused_views_follow_the_buffer() {
    let dir = triggers_system();
    let system = System::load(&dir).expect("loads");
    let g = Graph::build(&system, &Focus::Function("mailer".into())).unwrap();
    for id in [
        "ev_Invoiced",
        "rule_MailerInvoiced",
        "q_MailerBufferQueue",
        "fn_mailer",
        "fn_billing",
        "fn_tally",
    ] {
        assert!(g.node(id).is_some(), "{id} missing around mailer");
    }
    assert!(g.node("fn_checkout").is_none());
    let g = Graph::build(&system, &Focus::Event("Invoiced".into())).unwrap();
    for id in [
        "fn_tally",
        "sched_tally",
        "rule_MailerInvoiced",
        "q_MailerBufferQueue",
        "fn_mailer",
    ] {
        assert!(g.node(id).is_some(), "{id} missing around Invoiced");
    }
    let g = Graph::build(&system, &Focus::Function("checkout".into())).unwrap();
    assert!(g.node("http_POST__checkout").is_some());
    assert!(g.node("cmd_Checkout").is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_catalog_pages_list_each_functions_trigger() {
    let dir = triggers_system();
    let system = System::load(&dir).expect("loads");
    let pages = eventrail_views::catalog_pages(&system).expect("pages");
    let page = |name: &str| {
        &pages
            .iter()
            .find(|p| p.file == name)
            .unwrap_or_else(|| panic!("no page {name}"))
            .text
    };
    let index = page("index.md");
    for row in [
        "| `checkout` | on `POST /checkout` (auth iam, body `Checkout`), and invoked directly with Checkout | OrderPlaced |",
        "| `tally` | on schedule `rate(1 day)` (local: `rate(1 minute)`) | Invoiced |",
        "| `intake` | from queue `IntakeSourceQueue` (batch 5) | OrderPlaced |",
        "| `mailer` | on Invoiced, buffered through `MailerBufferQueue` (batch 10, max 2) |  |",
        "| `billing` | on OrderPlaced | Invoiced |",
    ] {
        assert!(index.contains(row), "{row:?} not in\n{index}");
    }
    let invoiced = page("invoiced.md");
    assert!(
        invoiced.contains(
            "| `mailer` | `MailerInvoiced` | — | buffered through `MailerBufferQueue` (batch 10, max 2) |"
        ),
        "{invoiced}"
    );
    assert!(
        invoiced.contains("`tally` (on schedule `rate(1 day)` (local: `rate(1 minute)`))"),
        "{invoiced}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
