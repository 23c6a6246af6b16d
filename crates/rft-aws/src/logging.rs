//! The functions' logs: one JSON object per line (CloudWatch adds the time), at the level
//! `RUST_LOG` names (the stack sets `info`; `debug`, or per module `rft_core=debug,info`).

use tracing_subscriber::EnvFilter;

/// The level when `RUST_LOG` is unset or unreadable.
const DEFAULT_LEVEL: &str = "info";

/// Installs the log subscriber every function's `main` starts with. A `RUST_LOG` that is not a
/// valid filter falls back to `info` and says so, rather than stopping the function.
pub fn init_tracing() {
    let spec = std::env::var("RUST_LOG").ok();
    let (filter, refused) = log_filter(spec.as_deref());
    tracing_subscriber::fmt().json().with_current_span(false).without_time().with_env_filter(filter).init();
    if let Some(spec) = refused {
        tracing::warn!(rust_log = %spec, "RUST_LOG is not a valid log filter; logging at {DEFAULT_LEVEL}");
    }
}

/// The filter for a `RUST_LOG` value, and the value itself if it had to be refused.
fn log_filter(spec: Option<&str>) -> (EnvFilter, Option<String>) {
    match spec.map(str::trim).filter(|s| !s.is_empty()) {
        None => (EnvFilter::new(DEFAULT_LEVEL), None),
        Some(s) => match EnvFilter::try_new(s) {
            Ok(filter) => (filter, None),
            Err(_) => (EnvFilter::new(DEFAULT_LEVEL), Some(s.to_owned())),
        },
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::filter::LevelFilter;

    use super::log_filter;

    #[test]
    fn rust_log_sets_the_level_and_a_bad_value_falls_back_to_info() {
        let level = |spec| log_filter(spec).0.max_level_hint();
        assert_eq!(level(None), Some(LevelFilter::INFO));
        assert_eq!(level(Some("")), Some(LevelFilter::INFO));
        assert_eq!(level(Some("debug")), Some(LevelFilter::DEBUG));
        assert_eq!(level(Some("warn,rft_core=trace")), Some(LevelFilter::TRACE));
        let (filter, refused) = log_filter(Some("rft_core=loud"));
        assert_eq!((filter.max_level_hint(), refused.as_deref()), (Some(LevelFilter::INFO), Some("rft_core=loud")));
    }
}
