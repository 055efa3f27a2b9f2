//! One line of progress on standard error for the long commands (zone
//! import and export), drawn only when standard error is a terminal and
//! only once the work has taken long enough to be worth watching.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Work shorter than this shows no progress at all.
const QUIET_FOR: Duration = Duration::from_millis(300);
const TICK: Duration = Duration::from_millis(100);

/// A progress line, cleared when dropped.
pub struct Progress {
    shared: Option<Arc<Shared>>,
    drawer: Option<JoinHandle<()>>,
}

struct Shared {
    task: String,
    step: Mutex<String>,
    done: AtomicBool,
}

impl Progress {
    /// Progress of `task` (`importing big.zone`), starting at `step`.
    pub fn start(task: impl Into<String>, step: impl Into<String>) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress {
                shared: None,
                drawer: None,
            };
        }
        let shared = Arc::new(Shared {
            task: task.into(),
            step: Mutex::new(step.into()),
            done: AtomicBool::new(false),
        });
        let drawing = shared.clone();
        let drawer = std::thread::spawn(move || draw(&drawing));
        Progress {
            shared: Some(shared),
            drawer: Some(drawer),
        }
    }

    /// The step under way now (`storing 1000005 records`).
    pub fn step(&self, step: impl Into<String>) {
        if let Some(shared) = &self.shared {
            *shared.step.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = step.into();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.done.store(true, Ordering::Relaxed);
        }
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
        }
    }
}

/// Redraws the line every tick until the work is done, then clears it.
fn draw(shared: &Shared) {
    let started = Instant::now();
    let mut drawn = false;
    while !shared.done.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        let elapsed = started.elapsed();
        if elapsed < QUIET_FOR {
            continue;
        }
        let step = shared
            .step
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\r\x1b[2K{}: {step} ({:.1} s)",
            shared.task,
            elapsed.as_secs_f64()
        );
        let _ = stderr.flush();
        drawn = true;
    }
    if drawn {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[2K");
        let _ = stderr.flush();
    }
}
