//! Durability for SQLite: a background WAL checkpointer, and group sync (one fsync for
//! every commit made while the previous one was syncing).

use super::*;

/// Checkpoints the WAL into the database from its own connection and thread, so that
/// copying pages and fsyncing the database file never happen inside a request's commit
/// (SQLite's automatic checkpoint is turned off for this connection).
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    // PASSIVE: copies what it can without blocking writers or readers.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
            })
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Group commit. Transactions commit with `synchronous = NORMAL` (written to the WAL, not
/// yet fsynced) under the connection lock; then, with the lock released, each caller
/// waits until one fsync of the WAL file covers its commit. One caller at a time runs
/// the fsync for every commit made so far, so concurrent writers share it. No write
/// returns before its commit is on disk — as with `synchronous = FULL`, at a fraction of
/// the fsyncs.
#[derive(Debug)]
pub(super) struct GroupSync {
    /// The WAL file; `None` for an in-memory database.
    wal: Option<PathBuf>,
    state: Mutex<SyncState>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct SyncState {
    committed: u64,
    synced: u64,
    syncing: bool,
    file: Option<std::fs::File>,
}

impl GroupSync {
    pub(super) fn new(wal: Option<PathBuf>) -> Self {
        Self {
            wal,
            state: Mutex::default(),
            cv: Condvar::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a commit just made (call with the connection lock held).
    pub(super) fn mark(&self) -> u64 {
        let mut st = self.state();
        st.committed += 1;
        st.committed
    }

    /// The last commit counted (to wait for what a replayed answer reports).
    pub(super) fn current(&self) -> u64 {
        self.state().committed
    }

    /// Returns once commit `seq` is on disk (call without the connection lock).
    pub(super) fn durable(&self, seq: u64) -> Result<(), StoreError> {
        let Some(wal) = &self.wal else {
            return Ok(());
        };
        let mut st = self.state();
        loop {
            if st.synced >= seq {
                return Ok(());
            }
            if st.syncing {
                st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.syncing = true;
            let target = st.committed;
            let file = match st.file.take() {
                Some(f) => Ok(f),
                None => std::fs::File::open(wal),
            };
            drop(st);
            let result = file.and_then(|f| f.sync_data().map(|()| f));
            st = self.state();
            st.syncing = false;
            self.cv.notify_all();
            match result {
                Ok(f) => {
                    st.file = Some(f);
                    st.synced = st.synced.max(target);
                }
                Err(e) => {
                    return Err(StoreError::Backend(format!(
                        "making the commit durable (fsync {}): {e}",
                        wal.display()
                    )))
                }
            }
        }
    }
}
