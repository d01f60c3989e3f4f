//! What every handler shares: the options, the stack and its clients, the application's
//! model, the store, the live channel, the token, whether writes are allowed.

use std::ops::Deref;
use std::sync::Arc;

use eventrail_model::{Router, System};
use eventrail_observe::Stack;
use tokio::sync::broadcast;

use crate::mask::Masks;
use crate::messages::Messages;
use crate::store::Store;
use crate::token::Token;
use crate::{Options, Writes};

/// How many live rows wait for a slow page before it skips some (it reloads to catch up).
const LIVE_BACKLOG: usize = 1024;

/// What a live item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LiveKind {
    /// An event's row (`event: flow-event`).
    Event,
    /// A watched queue's message (`event: flow-message`).
    Message,
}

/// A new event's row (or a message's item), rendered once for every open page.
#[derive(Debug, Clone)]
pub(crate) struct LiveRow {
    /// Event or message.
    pub kind: LiveKind,
    /// The event's store sequence number (the SSE `id`; a message repeats the latest).
    pub seq: u64,
    /// The row's HTML.
    pub html: String,
}

/// The handlers' state (cheap to clone).
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub(crate) struct Shared {
    /// The command line's options.
    pub options: Options,
    /// The deployed stack: outputs and clients.
    pub stack: Stack,
    /// The application: declarations, catalog, schemas, template, rules.
    pub system: System,
    /// Every rule of the template compiled into one machine: which functions an event reaches.
    pub router: Option<Router>,
    /// The events seen.
    pub store: Store,
    /// The watched queues' messages seen.
    pub messages: Messages,
    /// New events' rows, for `/stream`.
    pub live: broadcast::Sender<Arc<LiveRow>>,
    /// The run's token.
    pub token: Token,
    /// The studio's own origin (`http://127.0.0.1:<port>`), for the same-origin check.
    pub origin: String,
    /// Whether the write pages work.
    pub writes: Writes,
    /// The personal fields of each detail-type.
    pub masks: Arc<Masks>,
    /// The app's business key field (`[workspace.metadata.eventrail] business-key`), a path
    /// inside `detail.data` (`customer_id`), if it declares one.
    pub business_key: Option<String>,
}

impl AppState {
    /// The state of a studio serving on `origin`.
    pub(crate) fn new(
        options: Options,
        stack: Stack,
        system: System,
        token: Token,
        origin: String,
    ) -> Self {
        let router = eventrail_model::Router::from_template(&system.template).ok();
        let masks = Arc::new(Masks::of_system(&system, options.personal));
        let business_key = system.app.project.settings.business_key.clone();
        let writes = crate::prod::writes(&options.env, options.writes);
        let store = Store::new(options.keep, business_key.clone());
        let messages = Messages::new(options.keep);
        let (live, _) = broadcast::channel(LIVE_BACKLOG);
        Self(Arc::new(Shared {
            options,
            stack,
            system,
            router,
            store,
            messages,
            live,
            token,
            origin,
            writes,
            masks,
            business_key,
        }))
    }
}
