//! The reference provider as the embedded default serves it: in this process, and restartable
//! in place, so that the harness can prove it loses no acknowledged find across a restart.
//!
//! A restart here is what a process exit and start would be: the server and every task in
//! progress stop, all in-memory state goes, and a new provider starts on the same address from
//! its journal alone (a file in the system's temporary directory, removed when this ends).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use super::journal::{FindJournal, JournalError};
use super::{ProviderOptions, ReferenceProvider};
use crate::net::pki::TlsIdentity;
use crate::net::server::ServerLimits;
use crate::net::tls::{self, RunningServer, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedProviderError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

struct Running {
    provider: ReferenceProvider,
    server: RunningServer,
}

/// The in-process reference provider and what it needs to start again.
pub struct EmbeddedProvider {
    options: ProviderOptions,
    identity: TlsIdentity,
    client_cas: Vec<CertificateDer<'static>>,
    limits: ServerLimits,
    journal_path: PathBuf,
    addr: SocketAddr,
    running: Mutex<Running>,
}

impl std::fmt::Debug for EmbeddedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedProvider")
            .field("addr", &self.addr)
            .field("journal", &self.journal_path)
            .finish_non_exhaustive()
    }
}

impl EmbeddedProvider {
    /// Start the provider on `bind` with a fresh journal.
    pub fn start(
        options: ProviderOptions,
        bind: SocketAddr,
        identity: TlsIdentity,
        client_cas: Vec<CertificateDer<'static>>,
        limits: ServerLimits,
    ) -> Result<EmbeddedProvider, EmbeddedProviderError> {
        let journal_path = std::env::temp_dir().join(format!(
            "pdp-harness-provider-journal-{}.jsonl",
            uuid::Uuid::new_v4()
        ));
        // The embedded default's journal only has to outlive a restart of the provider, not
        // of the machine: written through to the file, not flushed to the disk.
        let (journal, recovered) = FindJournal::open(&journal_path, false)?;
        let provider =
            ReferenceProvider::with_journal(options.clone(), Some(Arc::new(journal)), recovered);
        let server = tls::serve_mtls(provider.router(), bind, &identity, &client_cas, &limits)?;
        let addr = server.addr;
        Ok(EmbeddedProvider {
            options,
            identity,
            client_cas,
            limits,
            journal_path,
            addr,
            running: Mutex::new(Running { provider, server }),
        })
    }

    /// The server as first started (its address is the provider's for good).
    pub fn first_server(&self) -> RunningServer {
        self.lock().server.clone()
    }

    /// The provider now serving (the same one until a restart).
    pub fn provider(&self) -> ReferenceProvider {
        self.lock().provider.clone()
    }

    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Stop the provider as a process exit would, and start a new one on the same address
    /// from its journal: it resumes the finds it acknowledged and had not finished.
    pub async fn restart(&self) -> Result<usize, EmbeddedProviderError> {
        let old = {
            let running = self.lock();
            running.provider.stop();
            running.server.shutdown();
            running.provider.clone()
        };
        let (journal, recovered) = FindJournal::open(&self.journal_path, false)?;
        let pending = recovered.pending.clone();
        let provider = ReferenceProvider::with_journal(
            self.options.clone(),
            Some(Arc::new(journal)),
            recovered,
        );
        // What it served is the organisation's reporting data, not state a restart loses.
        provider.adopt_served_views(old.served_views());
        // The old listener closes as its accept loop sees the stop: try the address again for
        // a moment rather than fail on a port still being released.
        let mut attempt = 0;
        let server = loop {
            match tls::serve_mtls(
                provider.router(),
                self.addr,
                &self.identity,
                &self.client_cas,
                &self.limits,
            ) {
                Ok(server) => break server,
                Err(e) if attempt >= 50 => return Err(e.into()),
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let resumed = pending.len();
        provider.resume(pending);
        *self.lock() = Running { provider, server };
        Ok(resumed)
    }

    pub fn shutdown(&self) {
        let running = self.lock();
        running.provider.stop();
        running.server.shutdown();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for EmbeddedProvider {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.journal_path);
    }
}
