//! Progress on stderr: an `indicatif` bar on a terminal (rows read, batches sent, rate, ETA),
//! a plain line every few seconds otherwise (CI, cron, services), nothing when switched off.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::hash::report::group_digits;

/// Seconds between plain progress lines. Our choice: often enough to see a run is alive,
/// rarely enough not to flood a log.
const PLAIN_LINE_INTERVAL: Duration = Duration::from_secs(5);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    Auto,
    /// Plain lines whatever stderr is.
    Lines,
    /// Nothing (tests, library callers).
    Off,
}

/// The progress of one run.
pub struct Progress {
    segment: String,
    display: Display,
}

enum Display {
    Bar(ProgressBar),
    Lines(Mutex<LineState>),
    Off,
}

struct LineState {
    phase: String,
    total: Option<u64>,
    done: u64,
    unit: &'static str,
    phase_started: Instant,
    last_line: Instant,
}

impl Progress {
    pub fn new(mode: ProgressMode, segment: &str) -> Progress {
        let display = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => Display::Bar(
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            ),
            ProgressMode::Auto | ProgressMode::Lines => Display::Lines(Mutex::new(LineState {
                phase: String::new(),
                total: None,
                done: 0,
                unit: "rows",
                phase_started: Instant::now(),
                last_line: Instant::now(),
            })),
            ProgressMode::Off => Display::Off,
        };
        Progress {
            segment: segment.to_owned(),
            display,
        }
    }

    /// Starts a phase: `phase` names it ("reading", "removing", "adding"), `total` is the
    /// number of `unit`s it will count when known.
    pub fn start(&self, phase: &str, total: Option<u64>, unit: &'static str) {
        match &self.display {
            Display::Bar(bar) => {
                bar.reset();
                bar.set_position(0);
                bar.set_prefix(format!("{} {phase}", self.segment));
                let template = match total {
                    Some(total) => {
                        bar.set_length(total);
                        format!(
                            "{{prefix}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} {{per_sec}} ETA {{eta}}"
                        )
                    }
                    None => {
                        bar.unset_length();
                        format!("{{spinner}} {{prefix}} {{human_pos}} {unit} {{per_sec}}")
                    }
                };
                if let Ok(style) = ProgressStyle::with_template(&template) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.enable_steady_tick(Duration::from_millis(200));
            }
            Display::Lines(state) => {
                let mut state = state
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.phase = phase.to_owned();
                state.total = total;
                state.done = 0;
                state.unit = unit;
                state.phase_started = Instant::now();
                state.last_line = Instant::now();
            }
            Display::Off => {}
        }
    }

    /// Counts `n` more units of the current phase.
    pub fn advance(&self, n: u64) {
        match &self.display {
            Display::Bar(bar) => bar.inc(n),
            Display::Lines(state) => {
                let mut state = state
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.done += n;
                if state.last_line.elapsed() >= PLAIN_LINE_INTERVAL {
                    state.last_line = Instant::now();
                    eprintln!("audsync: {}: {}", self.segment, state.describe());
                }
            }
            Display::Off => {}
        }
    }

    /// Says something between phases (above the bar on a terminal).
    pub fn note(&self, text: &str) {
        match &self.display {
            Display::Bar(bar) => bar.println(format!("{}: {text}", self.segment)),
            Display::Lines(_) => eprintln!("audsync: {}: {text}", self.segment),
            Display::Off => {}
        }
    }

    /// Removes the bar (before the report is printed).
    pub fn finish(&self) {
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
        }
    }
}

impl LineState {
    fn describe(&self) -> String {
        let seconds = self.phase_started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 {
            self.done as f64 / seconds
        } else {
            0.0
        };
        let mut text = format!("{} {} {}", self.phase, group_digits(self.done), self.unit);
        if let Some(total) = self.total {
            text.push_str(&format!(" of {}", group_digits(total)));
            if rate > 0.0 && total > self.done {
                let eta = (total - self.done) as f64 / rate;
                text.push_str(&format!(", ETA {eta:.0} s"));
            }
        }
        text.push_str(&format!(
            " ({} {}/s)",
            group_digits(rate.round() as u64),
            self.unit
        ));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_say_phase_counts_rate_and_eta() {
        let state = LineState {
            phase: "adding".to_owned(),
            total: Some(20_000),
            done: 5_000,
            unit: "rows",
            phase_started: Instant::now() - Duration::from_secs(5),
            last_line: Instant::now(),
        };
        let text = state.describe();
        assert!(
            text.starts_with("adding 5,000 rows of 20,000, ETA 15 s"),
            "{text}"
        );
        assert!(text.contains("rows/s"), "{text}");
    }
}
