//! The write pages' forms (put, redrive, replay): a POST to the studio itself carrying the
//! run's token (in the action's query, which the guard reads, and as a hidden field), shown
//! only when writes are allowed; on a read-only studio a notice instead.

use maud::{Markup, html};

use crate::layout::writes_allowed;
use crate::state::AppState;

/// A form's `action`: `path` with the token (the guard accepts it there, cookie or not).
pub(crate) fn action(state: &AppState, path: &str) -> String {
    let join = if path.contains('?') { '&' } else { '?' };
    format!("{path}{join}token={}", state.token.as_str())
}

/// The hidden token field every write form carries.
pub(crate) fn token_field(state: &AppState) -> Markup {
    html! { input type="hidden" name="token" value=(state.token.as_str()); }
}

/// `form` when writes are allowed, else the read-only notice (`#read-only-notice`).
pub(crate) fn when_writable(state: &AppState, form: impl FnOnce() -> Markup) -> Markup {
    if writes_allowed(state) {
        form()
    } else {
        html! {
            p #read-only-notice .read-only {
                "read-only: this studio does not write (start it with --allow-writes)"
            }
        }
    }
}
