//! Runs the built `aresgen-hooks schedule` and checks the default retry table.

use std::process::{Command, Output};

fn schedule(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_aresgen-hooks"))
        .arg("schedule")
        .args(args)
        .output()
        .expect("the aresgen-hooks binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Splits each row into attempt number, offset and gap, relying on the two-space column gap.
fn text_rows() -> Vec<(u32, String, String)> {
    let text = String::from_utf8(schedule(&[]).stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["attempt", "offset", "gap"]);

    lines
        .map(|line| {
            let cells: Vec<&str> = line
                .split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .collect();
            assert_eq!(cells.len(), 3, "{line:?}");
            (
                cells[0].parse().unwrap(),
                cells[1].to_owned(),
                cells[2].to_owned(),
            )
        })
        .collect()
}

#[test]
fn text_lists_24_attempts() {
    let rows = text_rows();
    assert_eq!(rows.len(), 24);
    let numbers: Vec<u32> = rows.iter().map(|row| row.0).collect();
    assert_eq!(numbers, (1..=24).collect::<Vec<u32>>());
}

#[test]
fn text_matches_contract_offsets() {
    let rows = text_rows();
    assert_eq!(rows[0], (1, "0s".to_owned(), "0s".to_owned()));
    assert_eq!(rows[1], (2, "10s".to_owned(), "10s".to_owned()));
    assert_eq!(rows[2], (3, "30s".to_owned(), "20s".to_owned()));
    assert_eq!(rows[3], (4, "1m 10s".to_owned(), "40s".to_owned()));
    assert_eq!(rows[12].1, "11h 22m 30s");
    assert_eq!(rows[13].2, "6h 0m 0s");
    assert_eq!(rows[22].1, "71h 22m 30s");
    assert_eq!(rows[23], (24, "72h 0m 0s".to_owned(), "37m 30s".to_owned()));
}

#[test]
fn json_gives_seconds() {
    let output = schedule(&["--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 24);

    assert_eq!(
        rows[0],
        serde_json::json!({"attempt": 1, "offset_secs": 0, "gap_secs": 0})
    );
    assert_eq!(rows[12]["attempt"], 13);
    assert_eq!(rows[12]["offset_secs"], 11 * 3600 + 22 * 60 + 30);
    assert_eq!(rows[13]["gap_secs"], 6 * 3600);
    assert_eq!(rows[23]["attempt"], 24);
    assert_eq!(rows[23]["offset_secs"], 72 * 3600);
    assert_eq!(rows[23]["gap_secs"], 37 * 60 + 30);
}

#[test]
fn json_offsets_sum_gaps() {
    let output = schedule(&["--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut offset = 0;
    for row in &rows {
        offset += row["gap_secs"].as_u64().unwrap();
        assert_eq!(row["offset_secs"].as_u64().unwrap(), offset, "{row}");
    }
}

#[test]
fn unknown_format_exits_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_aresgen-hooks"))
        .args(["schedule", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
