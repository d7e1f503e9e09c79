//! The README as tests read it: its fenced blocks between two markers, and shell scripts made
//! of them, run in bash.

use std::process::Command;

/// README.md at the repository's root.
pub fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md")
}

/// The fenced blocks of the README between two markers, as (language, body), in order.
pub fn fenced_blocks(start: &str, end: &str) -> Vec<(String, String)> {
    let text = readme();
    let from = text.find(start).expect("start marker");
    let to = from + text[from..].find(end).expect("end marker");
    let mut blocks = Vec::new();
    let mut lines = text[from..to].lines();
    while let Some(line) = lines.next() {
        if let Some(language) = line.strip_prefix("```") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            blocks.push((language.to_owned(), body.join("\n")));
        }
    }
    blocks
}

/// Runs `script` with `bash -c` as `command` sets it up (environment, directory), off the
/// async runtime, and returns what it printed; fails the test, with both streams, if it fails.
pub async fn run_bash(script: String, setup: impl FnOnce(&mut Command) + Send + 'static) -> String {
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new("bash");
        command.arg("-c").arg(script);
        setup(&mut command);
        command.output()
    })
    .await
    .expect("bash task")
    .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the commands failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
