//! SIGINT and SIGTERM for the long-running subcommands (`run`, `serve`, `reference-provider`).

use pdp_harness::app::session::EXIT_FAILED;
use pdp_harness::runner::stop::Stop;

/// SIGINT and SIGTERM (Ctrl-C on other systems), as one stream.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Listening from now on: the signals no longer end the process by themselves.
    pub fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next signal's name.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// The first signal asks the run to stop (no further scenario; the evidence is sealed as
/// INTERRUPTED); a second one exits at once.
pub fn stop_on_signals(mut signals: Signals, stop: Stop) {
    tokio::spawn(async move {
        let first = signals.next().await;
        stop.request(format!("stopped by {first}"));
        eprintln!(
            "pdp-harness: {first}: no further scenario starts; finishing the run log and sealing the evidence as INTERRUPTED (again to exit at once)"
        );
        let second = signals.next().await;
        eprintln!(
            "pdp-harness: {second} again: exiting now; the run log is kept (`pdp-harness report <run dir>` renders it)"
        );
        pdp_harness::harness::environment::kill_clear_down_commands();
        std::process::exit(i32::from(EXIT_FAILED));
    });
}
