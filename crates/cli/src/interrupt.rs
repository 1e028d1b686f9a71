//! Ctrl-C and SIGTERM while a command holds the apply lock, as terraform treats them (issue 26,
//! item 1): at the confirmation prompt an interrupt is "no"; during the apply, the steps in
//! flight finish, nothing else starts, the lock is released and the run says what was done and
//! what was not (exit 130). A second interrupt stops at once; the lock's lease then runs out
//! (docs/reliability.md). Commands without the lock keep the default: an interrupt ends them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Exit code of a run stopped by an interrupt (128 + SIGINT, the shell's convention).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Installs the handler (once) and returns the flag it sets.
pub(crate) fn watch() -> Arc<AtomicBool> {
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        let installed = ctrlc::set_handler(move || {
            if seen.swap(true, Ordering::SeqCst) {
                eprintln!("\nSecond interrupt: stopping now. The lock's lease runs out in 60 s (or run `secmon force-unlock`).");
                std::process::exit(EXIT_INTERRUPTED.into());
            }
            eprintln!("\nInterrupt received. Stopping after the steps in flight: nothing else starts, and the lock is released.");
        });
        if let Err(e) = installed {
            tracing::warn!("interrupts are not handled gracefully: {e}");
        }
        flag
    })
    .clone()
}

/// Whether an interrupt was received since [`watch`].
pub(crate) fn received() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// Runs `fut` until it ends or an interrupt is received (then None).
pub(crate) async fn unless_interrupted<T>(fut: impl std::future::Future<Output = T>) -> Option<T> {
    let interrupted = async {
        while !received() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        out = fut => Some(out),
        () = interrupted => None,
    }
}

/// A line from standard input, or None when an interrupt comes first (the prompt's "no").
pub(crate) fn read_line() -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line).ok();
        let _ = tx.send(line);
    });
    loop {
        if received() {
            return None;
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => return Some(line),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Some(String::new()),
        }
    }
}
