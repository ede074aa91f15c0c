//! The training config inside the engine's `[evaluator]` table, next to the command config.

use emprox_benchmarks::command::CommandConfig;
use emprox_train::TrainingConfig;

/// The engine reads `[evaluator]` as an internally tagged enum; the configs must work there
/// (`type` is consumed by the tag, unknown fields are still rejected, defaults still apply).
#[test]
fn configs_work_inside_an_internally_tagged_evaluator_table() {
    #[derive(Debug, serde::Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    #[allow(dead_code)]
    enum EvaluatorConfig {
        Train(TrainingConfig),
        Command(CommandConfig),
    }
    let t: EvaluatorConfig = serde_json::from_str(r#"{"type": "train", "epochs": 3}"#).unwrap();
    match t {
        EvaluatorConfig::Train(c) => {
            assert_eq!(c.epochs, 3);
            assert_eq!(c.channels, TrainingConfig::default().channels);
        }
        other => panic!("{other:?}"),
    }
    let c: EvaluatorConfig =
        serde_json::from_str(r#"{"type": "command", "command": ["x", "{arch}"]}"#).unwrap();
    assert!(matches!(c, EvaluatorConfig::Command(ref c) if c.timeout_seconds == 3600.0));
    let e = serde_json::from_str::<EvaluatorConfig>(r#"{"type": "train", "epoch": 3}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `epoch`"), "{e}");
}
