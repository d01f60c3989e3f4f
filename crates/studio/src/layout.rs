//! The one page layout: the nav (Flows, System, Catalog, Dead letters, Put, Replay), the
//! environment and stack, a "read-only" badge when writes are off.

use maud::{DOCTYPE, Markup, html};

use crate::Writes;
use crate::state::AppState;

/// The nav's entries; a page names the one it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Flows,
    System,
    Catalog,
    DeadLetters,
    Put,
    Replay,
}

impl Nav {
    const ALL: [Nav; 6] = [
        Nav::Flows,
        Nav::System,
        Nav::Catalog,
        Nav::DeadLetters,
        Nav::Put,
        Nav::Replay,
    ];

    fn label(self) -> &'static str {
        match self {
            Nav::Flows => "Flows",
            Nav::System => "System",
            Nav::Catalog => "Catalog",
            Nav::DeadLetters => "Dead letters",
            Nav::Put => "Put",
            Nav::Replay => "Replay",
        }
    }

    fn href(self) -> &'static str {
        match self {
            Nav::Flows => "/",
            Nav::System => "/system",
            Nav::Catalog => "/catalog",
            Nav::DeadLetters => "/dlq",
            Nav::Put => "/put",
            Nav::Replay => "/replay",
        }
    }
}

/// A whole page: `title` in the tab and as the heading, `body` under it.
pub(crate) fn page(state: &AppState, active: Nav, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · eventrail studio" }
                link rel="stylesheet" href="/assets/studio.css";
                script src="/assets/studio.js" defer {}
            }
            body data-env=(state.options.env) {
                header.top {
                    a.brand href="/" { "eventrail studio" }
                    nav {
                        @for item in Nav::ALL {
                            a href=(item.href()) class=[(item == active).then_some("active")] {
                                (item.label())
                            }
                        }
                    }
                    span.where {
                        span.env { (state.options.env) }
                        " · "
                        span.stack { (state.options.stack_name) }
                        @if state.writes == Writes::ReadOnly {
                            " "
                            span.badge.read-only title="start with --allow-writes to put, redrive or replay" {
                                "read-only"
                            }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
                footer.about {
                    "The events the studio shows are held in this process's memory only (nothing is \
                     written to disk) and are gone when it stops. "
                    @if state.masks.active() {
                        "Fields the catalog marks personal are shown as •••."
                    } @else {
                        "Personal fields are shown (--show-personal)."
                    }
                }
            }
        }
    }
}

/// Whether the write forms are shown (S2's pages ask before drawing a form).
#[allow(dead_code, reason = "the write pages ask it")]
pub(crate) fn writes_allowed(state: &AppState) -> bool {
    state.writes == Writes::Allowed
}
