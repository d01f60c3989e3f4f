//! The HTTP server: the routes of every page merged behind the token guard, bound on
//! 127.0.0.1, the URL printed once it listens; the tap runs beside it until a stop signal,
//! then it is removed.

use std::future::IntoFuture;

use axum::Router;
use axum::middleware;
use eventrail_observe::{Tail, tail_pattern};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth;
use crate::error::StudioError;
use crate::state::AppState;
use crate::token::Token;
use crate::{Options, Stack, System, assets, live, pages, prod};

/// Every route, behind the guard.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .merge(pages::flows::routes())
        .merge(pages::flow::routes())
        .merge(pages::event::routes())
        .merge(pages::why::routes())
        .merge(pages::system::routes())
        .merge(pages::function::routes())
        .merge(pages::catalog::routes())
        .merge(pages::put::routes())
        .merge(pages::dlq::routes())
        .merge(pages::replay::routes())
        .merge(live::routes())
        .merge(assets::routes())
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .with_state(state)
}

/// Binds, creates the tap, prints the URL, serves until a stop signal, removes the tap.
pub(crate) async fn serve(
    options: Options,
    stack: Stack,
    system: System,
) -> Result<(), StudioError> {
    let mut stop = live::Stop::listen()?;
    let port = options.port;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| StudioError::Bind { port, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StudioError::Bind { port, source })?
        .port();
    let token = Token::generate()?;
    let origin = format!("http://127.0.0.1:{bound}");
    let preload = options.preload.clone();
    let confirm = options.confirm;
    let state = AppState::new(options, stack, system, token, origin);
    if let Some(file) = &preload {
        let count = live::preload(&state, file)?;
        eprintln!("studio: {count} events loaded from {}", file.display());
    }

    let bus = state
        .stack
        .outputs
        .bus_name()
        .map_err(|source| StudioError::Stack {
            context: "the stack's outputs name no bus".to_owned(),
            source,
        })?
        .to_owned();
    prod::confirm_tap(&state.options.env, &bus, confirm)?;
    let (tail, cleaned) = Tail::start(&state.stack.clients, &bus, &tail_pattern(None, None, None))
        .await
        .map_err(|source| StudioError::Stack {
            context: format!("creating the studio's rule and queue on bus {bus}"),
            source,
        })?;
    if !cleaned.is_empty() {
        eprintln!(
            "studio: removed what killed runs left behind: {}",
            cleaned.join(", ")
        );
    }
    let mut tail = tail;
    let name = tail.tap().name().to_owned();
    eprintln!("studio: rule and queue {name} on bus {bus} (removed on exit)");

    println!("studio: {}/?token={}", state.origin, state.token.as_str());
    let (stopped_tx, stopped_rx) = watch::channel(false);
    let tapping = tokio::spawn(live::tap_loop(state.clone(), tail, stopped_rx));
    // Open pages keep their event streams: the server is not drained, it stops with the tap.
    let mut server = tokio::spawn(axum::serve(listener, router(state)).into_future());
    let served = tokio::select! {
        () = stop.requested() => Ok(()),
        ended = &mut server => match ended {
            Ok(result) => result.map_err(StudioError::Serve),
            Err(_) => Ok(()),
        },
    };
    server.abort();
    let _ = stopped_tx.send(true);
    let removed = match tapping.await {
        Ok(tail) => tail.stop().await.map_err(|source| StudioError::Stack {
            context: format!(
                "could not remove rule and queue {name}; the next studio or `eventrail tail` \
                 removes them once their lease ends"
            ),
            source,
        }),
        Err(_) => Ok(()),
    };
    if removed.is_ok() {
        eprintln!("studio: removed rule and queue {name}");
    }
    removed?;
    served
}
