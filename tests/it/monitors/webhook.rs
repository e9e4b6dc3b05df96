//! The generic webhook beyond the table of endings (`endings.rs`): method, headers and body templates
//! (with JSON-escaped placeholders) from the config file's `webhook` table.

use super::endings::host_name;
use crate::harness::*;
use serde_json::json;

/// A config file whose job `hook` pings the server and runs `script`.
fn config(server: &Server, webhook: &str, script: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let text = format!(
        "[jobs.hook]\ncommand = [\"sh\", \"-c\", {script:?}]\nping = \"webhook+{}/in\"\n\n[jobs.hook.webhook]\n{webhook}",
        server.url()
    );
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn templates_method_and_headers_from_the_config_file() {
    let server = Server::start();
    let file = config(
        &server,
        r#"method = "put"
headers = { Authorization = "Bearer s3cr3t", "X-Team" = "ops" }
start = '{"text": "{job} started on {host}", "id": "{run_id}"}'
failure = '{"text": "{job} {outcome}: {message}", "code": {exit_status}, "took": {duration}, "sig": "{signal}", "out": "{output_tail}"}'
"#,
        r#"echo "run $CRONBEAT_RUN_ID"; printf 'say "hi"\t{job}\n'; exit 4"#,
    );
    let run = cronbeat()
        .args(&[
            "--config".into(),
            file.path().display().to_string(),
            "--job".into(),
            "hook".into(),
        ])
        .run();
    assert_eq!(run.code(), 4, "{run:?}");
    let rid = run.run_id();
    let requests = server.received();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    for request in &requests {
        assert_eq!(request.method, "PUT");
        assert_eq!(request.path, "/in");
        assert_eq!(request.header("authorization"), Some("Bearer s3cr3t"));
        assert_eq!(request.header("x-team"), Some("ops"));
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    assert_eq!(
        requests[0].json(),
        json!({"text": format!("hook started on {}", host_name()), "id": rid})
    );
    let failure = requests[1].json();
    assert_eq!(failure["text"], "hook failure: exited with status 4");
    assert_eq!(failure["code"], 4);
    assert!(failure["took"].as_f64().is_some());
    assert_eq!(failure["sig"], "");
    assert_eq!(
        failure["out"],
        format!("run {rid}\nsay \"hi\"\t{{job}}\n"),
        "placeholders in the output stay as they are"
    );
}

#[test]
fn a_template_that_is_not_json_is_a_usage_error() {
    let server = Server::start();
    let file = config(&server, "success = '{\"text\": {job}}'\n", "echo ran");
    let run = cronbeat()
        .args(&[
            "--config".into(),
            file.path().display().to_string(),
            "--job".into(),
            "hook".into(),
        ])
        .run();
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr.contains("webhook template `success`"), "{run:?}");
    assert!(!run.stdout.contains("ran"));
    assert!(server.received().is_empty());
}
