//! Trace and span ids X-Ray accepts: a trace id's first 32 bits are the epoch second the trace
//! started (`1-<8 hex seconds>-<24 hex random>` in X-Ray's spelling), the other 96 random;
//! span ids random. Never zero. The tracer provider makes every new id here ([`XrayIds`]).

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::IdGenerator;

/// The tracer provider's id generator: X-Ray compatible trace ids, random span ids.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct XrayIds;

impl IdGenerator for XrayIds {
    fn new_trace_id(&self) -> TraceId {
        TraceId::from(trace_id_at(now_epoch_seconds()))
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from(span_id())
    }
}

/// Seconds since the Unix epoch now (0 if the clock is before it).
pub(crate) fn now_epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A new trace id for a trace started at `epoch_seconds`: the second in the first 32 bits
/// (cut to 32 bits, as X-Ray's 8 hex digits), 96 random bits after it, never all zero.
pub(crate) fn trace_id_at(epoch_seconds: u64) -> u128 {
    let seconds = u128::from(epoch_seconds as u32);
    let random = loop {
        let bits = fastrand::u128(..) & ((1u128 << 96) - 1);
        if bits != 0 {
            break bits;
        }
    };
    (seconds << 96) | random
}

/// A new random, non-zero span id.
pub(crate) fn span_id() -> u64 {
    loop {
        let id = fastrand::u64(..);
        if id != 0 {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use eventrail_contract::trace::TraceParent;

    use super::*;

    #[test]
    fn new_trace_ids_are_valid_for_xray_now() {
        let now = now_epoch_seconds();
        let ids = XrayIds;
        for _ in 0..64 {
            let trace_id = u128::from_be_bytes(ids.new_trace_id().to_bytes());
            let parent = TraceParent {
                trace_id,
                span_id: u64::from_be_bytes(ids.new_span_id().to_bytes()),
                sampled: true,
            };
            assert_eq!(parent.trace_epoch_seconds(), now & 0xffff_ffff);
            assert!(parent.xray_accepts_at(now), "{parent}");
            let header = parent.to_xray_header();
            assert_eq!(TraceParent::from_xray_header(&header), Ok(parent));
            assert_ne!(parent.span_id, 0);
        }
    }

    #[test]
    fn trace_ids_keep_their_start_second_and_differ() {
        let first = trace_id_at(0x6000_0000);
        let second = trace_id_at(0x6000_0000);
        assert_eq!(first >> 96, 0x6000_0000);
        assert_ne!(first, second);
        assert_ne!(first & ((1u128 << 96) - 1), 0);
    }
}
