//! Bad input of every kind gets a clear one-line error and exit code 2, never a panic, and
//! leaves no output folder behind. Set `EMPROX_BAD_INPUT_TABLE=FILE` to write the Markdown table
//! of what each input gets (`docs/bad-inputs.md`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

struct Case {
    what: &'static str,
    args: Vec<String>,
    needle: &'static str,
}

fn base() -> String {
    std::fs::read_to_string(root().join("examples/nb201_evolution.toml")).unwrap()
}

fn emprox_filter() -> String {
    std::fs::read_to_string(root().join("examples/nb201_evolution_emprox.toml")).unwrap()
}

/// The EmProx example `e` with its estimator replaced by a `mean` of `members` (TOML tables).
fn mean(e: &str, members: &str) -> String {
    e.replace(
        "type = \"emprox\"",
        &format!("type = \"mean\"\nmembers = [{members}]\n# type = \"emprox\""),
    )
    .replace("\npretrain = 2000", "\n# pretrain = 2000")
}

#[test]
fn bad_inputs_get_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = dir.join("out");
    let o = out.to_str().unwrap().to_string();
    let mut n = 0;
    let mut file = |text: &str| -> String {
        n += 1;
        let p = dir.join(format!("exp{n}.toml"));
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let run = |f: String| vec!["run".to_string(), f, "--out".into(), o.clone()];
    let b = base();
    let e = emprox_filter();
    // Data files for the benchmark.data key.
    let gz = std::fs::read(root().join("benchmarks/data/nb201.csv.gz")).unwrap();
    let truncated = dir.join("truncated.csv.gz");
    std::fs::write(&truncated, &gz[..gz.len() / 3]).unwrap();
    let garbage = dir.join("garbage.csv");
    std::fs::write(&garbage, "index,arch\n0,hello\n").unwrap();
    let with_data = |p: &Path| {
        b.replace(
            "noise = \"mean\"",
            &format!("noise = \"mean\"\ndata = \"{}\"", p.display()),
        )
    };

    let mut cases = vec![
        Case {
            what: "TOML syntax error",
            args: run(file(&b.replace("seed = 0", "seed = = 0"))),
            needle: ":4:",
        },
        Case {
            what: "unclosed table header",
            args: run(file(&b.replace("[benchmark]", "[benchmark"))),
            needle: "exp",
        },
        Case {
            what: "unknown top-level key",
            args: run(file(&b.replace("seed = 0", "sed = 0"))),
            needle: "did you mean `seed`",
        },
        Case {
            what: "unknown key in [strategy]",
            args: run(file(&b.replace("sample_size", "sampel_size"))),
            needle: "did you mean `sample_size`",
        },
        Case {
            what: "unknown strategy",
            args: run(file(&b.replace(
                "\"regularized_evolution\"",
                "\"regularised_evolution\"",
            ))),
            needle: "did you mean `regularized_evolution`",
        },
        Case {
            what: "unknown dataset",
            args: run(file(&b.replace("\"cifar10\"", "\"cifar-10\""))),
            needle: "imagenet16-120",
        },
        Case {
            what: "unknown benchmark",
            args: run(file(&b.replace("\"nasbench201\"", "\"nasbench101\""))),
            needle: "did you mean `type = \"tabular\"` with `description = \"benchmarks/data/nb101_subset500.tabular.toml\"`?",
        },
        Case {
            what: "unknown noise model",
            args: run(file(&b.replace("\"mean\"", "\"median\""))),
            needle: "sample",
        },
        Case {
            what: "wrong type (string for integer)",
            args: run(file(&b.replace("seeds = 20", "seeds = \"20\""))),
            needle: "invalid type",
        },
        Case {
            what: "negative seed",
            args: run(file(&b.replace("seed = 0", "seed = -1"))),
            needle: ":4:",
        },
        Case {
            what: "zero runs",
            args: run(file(&b.replace("seeds = 20", "seeds = 0"))),
            needle: "`seeds` must be at least 1",
        },
        Case {
            what: "missing name",
            args: run(file(&b.replace("name = \"nb201-re\"", ""))),
            needle: "missing field `name`",
        },
        Case {
            what: "empty name",
            args: run(file(&b.replace("name = \"nb201-re\"", "name = \" \""))),
            needle: "must not be empty",
        },
        Case {
            what: "name `..` (would be the parent folder)",
            args: run(file(&b.replace("name = \"nb201-re\"", "name = \"..\""))),
            needle: "must not be `.` or `..`",
        },
        Case {
            what: "name with a path separator",
            args: run(file(
                &b.replace("name = \"nb201-re\"", "name = \"../../x\""),
            )),
            needle: "must be a plain folder name",
        },
        Case {
            what: "absolute path as name",
            args: run(file(&b.replace("name = \"nb201-re\"", "name = \"/tmp/x\""))),
            needle: "must be a plain folder name",
        },
        Case {
            what: "misspelt table name",
            args: run(file(&b.replace("[benchmark]", "[benchmark_]"))),
            needle: "unknown field `benchmark_`",
        },
        Case {
            what: "missing strategy type",
            args: run(file(&b.replace("type = \"regularized_evolution\"", ""))),
            needle: "missing field `type`",
        },
        Case {
            what: "no budget at all",
            args: run(file(&b.replace("max_queries = 150", ""))),
            needle: "at least one of max_queries",
        },
        Case {
            what: "zero max_queries",
            args: run(file(&b.replace("max_queries = 150", "max_queries = 0"))),
            needle: "max_queries must be at least 1",
        },
        Case {
            what: "negative max_sim_seconds",
            args: run(file(
                &b.replace("max_queries = 150", "max_sim_seconds = -5.0"),
            )),
            needle: "positive",
        },
        Case {
            what: "NaN max_wall_seconds",
            args: run(file(
                &b.replace("max_queries = 150", "max_wall_seconds = nan"),
            )),
            needle: "positive",
        },
        Case {
            what: "sample_size > population_size",
            args: run(file(&b.replace("sample_size = 10", "sample_size = 31"))),
            needle: "`sample_size` must be between 1 and population_size (30)",
        },
        Case {
            what: "population_size = 0",
            args: run(file(
                &b.replace("population_size = 30", "population_size = 0"),
            )),
            needle: "`population_size` = 0 is out of range [1, 1000000]",
        },
        Case {
            what: "key of another strategy",
            args: run(file(
                &b.replace("sample_size = 10", "sample_size = 10\nnum_init = 5"),
            )),
            needle: "unknown field `num_init`",
        },
        Case {
            what: "missing data file",
            args: run(file(&with_data(&dir.join("nope.csv.gz")))),
            needle: "does not exist",
        },
        Case {
            what: "truncated data file",
            args: run(file(&with_data(&truncated))),
            needle: "corrupt data file",
        },
        Case {
            what: "data file of another format",
            args: run(file(&with_data(&garbage))),
            needle: "missing column",
        },
        Case {
            what: "[estimator] without [filter]",
            args: run(file(&format!("{b}\n[estimator]\ntype = \"emprox\"\n"))),
            needle: "needs a [filter]",
        },
        Case {
            what: "[filter] without [estimator]",
            args: run(file(&format!("{b}\n[filter]\ntop_k = 5\n"))),
            needle: "needs an [estimator]",
        },
        Case {
            what: "unknown estimator",
            args: run(file(&e.replace("type = \"emprox\"", "type = \"emprocks\""))),
            needle: "did you mean `emprox`",
        },
        Case {
            what: "top_k = 0",
            args: run(file(&e.replace("top_k = 10", "top_k = 0"))),
            needle: "top_k must be at least 1",
        },
        Case {
            what: "candidates < top_k",
            args: run(file(&e.replace("candidates = 100", "candidates = 5"))),
            needle: "must be at least top_k",
        },
        Case {
            what: "estimator key out of range (k = 0)",
            args: run(file(
                &e.replace("pretrain = 2000", "pretrain = 2000\nk = 0"),
            )),
            needle: "k",
        },
        Case {
            what: "mean of one estimator",
            args: run(file(&mean(&e, "{ type = \"knn_onehot\" }"))),
            needle: "estimator `mean`: `members` must hold 2 to 8 estimators, got 1",
        },
        Case {
            what: "mean with a bad member",
            args: run(file(&mean(
                &e,
                "{ type = \"knn_onehot\", k = 0 }, { type = \"gbdt\" }",
            ))),
            needle: "estimator `mean`: member 1: estimator `knn_onehot`: `k` = 0 is out of range [1, 100000]",
        },
        Case {
            what: "estimator key of another type",
            args: run(file(
                &e.replace("pretrain = 2000", "pretrain = 2000\nrounds = 10"),
            )),
            needle: "rounds",
        },
        Case {
            what: "--set without =",
            args: {
                let mut a = run(file(&b));
                a.extend(["--set".into(), "seeds".into()]);
                a
            },
            needle: "expected KEY=VALUE",
        },
        Case {
            what: "--set unknown key",
            args: {
                let mut a = run(file(&b));
                a.extend(["--set".into(), "budget.max_querys=5".into()]);
                a
            },
            needle: "did you mean `max_queries`",
        },
        Case {
            what: "--set value of wrong type",
            args: {
                let mut a = run(file(&b));
                a.extend(["--set".into(), "seeds=many".into()]);
                a
            },
            needle: "invalid type",
        },
        Case {
            what: "experiment file missing",
            args: run(dir.join("missing.toml").to_str().unwrap().into()),
            needle: "missing.toml",
        },
        Case {
            what: "experiment file is a folder",
            args: run(dir.to_str().unwrap().into()),
            needle: "cannot read",
        },
        Case {
            what: "binary garbage file",
            args: {
                let p = dir.join("bin.toml");
                std::fs::write(&p, [0xff, 0xfe, 0x00, 0x12]).unwrap();
                run(p.to_str().unwrap().into())
            },
            needle: "bin.toml",
        },
        Case {
            what: "unwritable output folder",
            args: vec![
                "run".into(),
                file(&b),
                "--out".into(),
                "/proc/emprox-out".into(),
            ],
            needle: "/proc/emprox-out",
        },
        Case {
            what: "arch: unknown op",
            args: vec![
                "arch".into(),
                "|conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|".into(),
            ],
            needle: "unknown op \"conv_3x3\"",
        },
        Case {
            what: "arch: wrong input node",
            args: vec![
                "arch".into(),
                "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|".into(),
            ],
            needle: "expected input ~0",
        },
        Case {
            what: "arch: missing node group",
            args: vec!["arch".into(), "|none~0|+|none~0|none~1|".into()],
            needle: "expected 3 node groups",
        },
        Case {
            what: "arch: too many edges",
            args: vec![
                "arch".into(),
                "|none~0|none~1|+|none~0|none~1|+|none~0|none~1|none~2|".into(),
            ],
            needle: "must have 1 incoming",
        },
        Case {
            what: "arch: empty string",
            args: vec!["arch".into(), "".into()],
            needle: "invalid architecture",
        },
        Case {
            what: "arch: index out of range",
            args: vec!["arch".into(), "15625".into()],
            needle: "out of range",
        },
        Case {
            what: "resume: not a run folder",
            args: vec!["resume".into(), dir.to_str().unwrap().into()],
            needle: "not an emprox output folder",
        },
        Case {
            what: "resume: folder missing",
            args: vec![
                "resume".into(),
                dir.join("nothing").to_str().unwrap().into(),
            ],
            needle: "is not a folder",
        },
        Case {
            what: "show: not a run folder",
            args: vec!["show".into(), dir.to_str().unwrap().into()],
            needle: "summary.json",
        },
    ];

    // Journals: a corrupt complete line, and a journal of another configuration.
    let good = dir.join("good");
    let st = Command::new(env!("CARGO_BIN_EXE_emprox"))
        .args([
            "run",
            "examples/nb201_random.toml",
            "--seeds",
            "1",
            "--out",
            good.to_str().unwrap(),
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(st.status.success());
    let journal = std::fs::read_to_string(good.join("seed-0/trials.jsonl")).unwrap();
    let corrupt = dir.join("corrupt");
    copy_run(&good, &corrupt);
    let mut lines: Vec<String> = journal.lines().map(String::from).collect();
    lines[4] = "{\"query\":5,\"index\":\"oops\"}".into();
    std::fs::write(
        corrupt.join("seed-0/trials.jsonl"),
        lines[..10].join("\n") + "\n",
    )
    .unwrap();
    cases.push(Case {
        what: "journal: corrupt complete line",
        args: vec!["resume".into(), corrupt.to_str().unwrap().into()],
        needle: "trials.jsonl:5",
    });
    let foreign = dir.join("foreign");
    copy_run(&good, &foreign);
    // Lines 2..=11 of a real journal, renumbered 1..=10: valid records of cells the run
    // does not propose in that order.
    let other: Vec<String> = journal.lines().map(String::from).collect();
    let mut shifted = other[1..11].to_vec();
    for (i, l) in shifted.iter_mut().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        v["query"] = (i as u64 + 1).into();
        *l = v.to_string();
    }
    std::fs::write(
        foreign.join("seed-0/trials.jsonl"),
        shifted.join("\n") + "\n",
    )
    .unwrap();
    cases.push(Case {
        what: "journal: belongs to another configuration",
        args: vec!["resume".into(), foreign.to_str().unwrap().into()],
        needle: "belongs to another configuration",
    });
    let changed = dir.join("changed");
    copy_run(&good, &changed);
    let cfg = std::fs::read_to_string(changed.join("config.resolved.toml")).unwrap();
    std::fs::write(
        changed.join("config.resolved.toml"),
        cfg.replace("seed = 0", "seed = 1"),
    )
    .unwrap();
    cases.push(Case {
        what: "resume: config changed since the start",
        args: vec!["resume".into(), changed.to_str().unwrap().into()],
        needle: "refusing to resume",
    });

    // Sizes that pass the types but could not run: bounded, refused before anything is written.
    let command = |cmd: &str, extra: &str| {
        format!(
            "{b}\n[evaluator]\ntype = \"command\"\n[evaluator.command]\ncommand = [{cmd}]\n{extra}"
        )
    };
    let not_exec = dir.join("not-executable.sh");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    cases.extend([
        Case {
            what: "timeout_seconds = 1e20",
            args: run(file(&command("\"sh\"", "timeout_seconds = 1e20"))),
            needle: "30 days",
        },
        Case {
            what: "command: program not found",
            args: run(file(&command("\"no-such-program-emprox\", \"{arch}\"", ""))),
            needle: "not found on PATH",
        },
        Case {
            what: "command: program not executable",
            args: run(file(&command(
                &format!("{:?}", not_exec.to_str().unwrap()),
                "",
            ))),
            needle: "not an executable file",
        },
        Case {
            what: "slurm: malformed time limit",
            args: run(file(&format!(
                "{b}\n[evaluator]\ntype = \"slurm\"\n[evaluator.slurm]\ncommand = [\"sh\"]\ntime = \"2h\"\n"
            ))),
            needle: "`time` = \"2h\" is not a Slurm time limit",
        },
        Case {
            what: "slurm: unknown placeholder",
            args: run(file(&format!(
                "{b}\n[evaluator]\ntype = \"slurm\"\n[evaluator.slurm]\ncommand = [\"{{emprox}}\", \"{{archh}}\"]\n"
            ))),
            needle: "unknown placeholder {archh}",
        },
        Case {
            what: "population_size = 10^12",
            args: run(file(&b.replace(
                "population_size = 30",
                "population_size = 1000000000000",
            ))),
            needle: "`population_size` = 1000000000000 is out of range [1, 1000000]",
        },
        Case {
            what: "[filter] candidates = 10^11",
            args: run(file(
                &e.replace("candidates = 100 ", "candidates = 100000000000 "),
            )),
            needle: "candidates must be at most 1000000",
        },
        Case {
            what: "[filter] exploit = 1.5",
            args: run(file(
                &e.replace("candidates = 100 ", "exploit = 1.5\ncandidates = 100 "),
            )),
            needle: "[filter] exploit must be in [0, 1], got 1.5",
        },
        Case {
            what: "[filter] proxy: unknown metric",
            args: run(file(
                &e.replace("candidates = 100 ", "proxy = \"parms_m\"\ncandidates = 100 "),
            )),
            needle: "`parms_m` is not a metric this benchmark knows before training \
                     (available: params_m, flops_m, latency_s)",
        },
        Case {
            what: "[filter] proxy_use without proxy",
            args: run(file(
                &e.replace("candidates = 100 ", "proxy_use = \"prior\"\ncandidates = 100 "),
            )),
            needle: "[filter] proxy_use needs a `proxy`",
        },
        Case {
            what: "[filter] ensemble = 0",
            args: run(file(
                &e.replace("candidates = 100 ", "ensemble = 0\ncandidates = 100 "),
            )),
            needle: "[filter] ensemble must be in [1, 100], got 0",
        },
        Case {
            what: "[filter] acquisition = \"greedy\"",
            args: run(file(&e.replace(
                "candidates = 100 ",
                "acquisition = \"greedy\"\ncandidates = 100 ",
            ))),
            needle: "unknown variant `greedy`, expected one of `mean`, `ucb`, `thompson`",
        },
        Case {
            what: "[estimator] warm_epochs with pretrain",
            args: run(file(
                &e.replace("[estimator]\n", "[estimator]\nwarm_epochs = 5\n"),
            )),
            needle: "need `pretrain` = 0",
        },
        Case {
            what: "seeds = 10^6",
            args: run(file(&b.replace("seeds = 20", "seeds = 1000000"))),
            needle: "`seeds` must be at most 100000",
        },
        Case {
            what: "--threads 5000",
            args: [run(file(&b)), vec!["--threads".into(), "5000".into()]].concat(),
            needle: "--threads must be between 1 and 1024",
        },
        Case {
            what: "[search] max_failures = 0",
            args: run(file(&format!("{b}\n[search]\nmax_failures = 0\n"))),
            needle: "max_failures must be at least 1",
        },
    ]);

    // Values within each key's type that could not run (issue 21): refused before anything
    // is written, never a panic or an abort.
    let eval = |evaluation: &str, estimator: &str| {
        format!(
            "[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar10\"\n\
             [evaluation]\ntrain_sizes = [10]\ntest_size = 20\n{evaluation}\n\
             [[estimators]]\n{estimator}\n"
        )
    };
    let predictors = |f: String| vec!["eval-predictors".to_string(), f, "--out".into(), o.clone()];
    cases.extend([
        Case {
            what: "[evaluation] trials = 2^63-1",
            args: predictors(file(&eval(
                "trials = 9223372036854775807",
                "type = \"random\"",
            ))),
            needle: "`evaluation.trials` must be at most 10000, got 9223372036854775807",
        },
        Case {
            what: "[evaluation] trials_per_size = 2^63-1",
            args: predictors(file(&eval(
                "trials_per_size = { 10 = 9223372036854775807 }",
                "type = \"random\"",
            ))),
            needle: "give 1 to 10000 trials",
        },
        Case {
            what: "[evaluation] jobs = 100000",
            args: predictors(file(&eval("jobs = 100000", "type = \"random\""))),
            needle: "`evaluation.jobs` must be at most 1024 (one thread each), got 100000",
        },
        Case {
            what: "[filter] mutations = 10^9",
            args: run(file(&e.replace(
                "candidates = 100 ",
                "mutations = 1000000000\ncandidates = 100 ",
            ))),
            needle: "[filter] mutations must be in [1, 100], got 1000000000",
        },
        Case {
            what: "mlp_ensemble with every size at its maximum",
            args: predictors(file(&eval(
                "",
                "type = \"mlp_ensemble\"\nensemble_size = 100\nlayers = 64\nwidth = 4096\n\
                 epochs = 100000\nbatch_size = 100000",
            ))),
            needle: "`ensemble_size` × `layers` × `width`² = 100 × 64 × 4096² is more than",
        },
        Case {
            what: "[estimator] mlp_ensemble too large for memory (filter)",
            args: run(file(
                &e.replace(
                    "type = \"emprox\"",
                    "type = \"mlp_ensemble\"\nensemble_size = 100\nlayers = 64\nwidth = 4096\n# ",
                )
                .replace("\npretrain = 2000", "\n# pretrain = 2000"),
            )),
            needle: "hidden weights an ensemble may hold",
        },
        Case {
            what: "emprox_supervised with every size at its maximum",
            args: predictors(file(&eval(
                "",
                "type = \"emprox_supervised\"\nensemble_size = 32\nlayers = 16\nwidth = 4096\n\
                 embedding_size = 1024\nrank_pairs = 10000000",
            ))),
            needle: "`ensemble_size` × `layers` × `width`² is more than the 100000000 weights",
        },
        Case {
            what: "[estimator] emprox_supervised inputs = \"graph\"",
            args: run(file(
                &e.replace(
                    "type = \"emprox\"",
                    "type = \"emprox_supervised\"\ninputs = \"graph\"\n# ",
                )
                .replace("\npretrain = 2000", "\n# pretrain = 2000"),
            )),
            needle: "unknown variant `graph`, expected one of `path`, `one_hot`, `both`",
        },
        Case {
            what: "[estimator] emprox_supervised rank_pairs = 10^9",
            args: run(file(
                &e.replace(
                    "type = \"emprox\"",
                    "type = \"emprox_supervised\"\nrank_pairs = 1000000000\n# ",
                )
                .replace("\npretrain = 2000", "\n# pretrain = 2000"),
            )),
            needle: "`rank_pairs` = 1000000000 is out of range [1, 10000000]",
        },
    ]);

    // Tabular input that was accepted without a word (issue 21): one line naming the file and
    // the key.
    let tabular = |name: &str, csv: &str, desc: &str| -> String {
        std::fs::write(dir.join(format!("{name}.csv")), csv).unwrap();
        std::fs::write(
            dir.join(format!("{name}.tabular.toml")),
            format!(
                "data = \"{name}.csv\"\nobjective = {{ column = \"acc\", goal = \"maximize\" }}\n\
                 {desc}\n[[architecture]]\ncolumn = \"ops\"\nseparator = \" \"\n"
            ),
        )
        .unwrap();
        b.replace(
            "type = \"nasbench201\"\ndataset = \"cifar10\"",
            &format!("type = \"tabular\"\ndescription = \"{name}.tabular.toml\"\n#"),
        )
        .replace("noise = \"mean\"", "")
    };
    let rows = "a b,90,5\nb a,91,6\na a,89,7\nb b,92,8\n";
    let objective_is_arch = tabular("objarch", &format!("ops,acc,s\n{rows}"), "");
    let desc = dir.join("objarch.tabular.toml");
    let text = std::fs::read_to_string(&desc).unwrap();
    std::fs::write(&desc, text.replace("column = \"acc\"", "column = \"ops\"")).unwrap();
    cases.extend([
        Case {
            what: "tabular: the header names a used column twice",
            args: run(file(&tabular("twice", &format!("ops,acc,acc\n{rows}"), ""))),
            needle: "twice.csv: the header names column `acc` (the objective) twice, as columns 2 and 3",
        },
        Case {
            what: "tabular: the objective is an architecture column",
            args: run(file(&objective_is_arch)),
            needle: "objarch.tabular.toml: invalid tabular description: `objective.column` = `ops` is also an [[architecture]] column",
        },
        Case {
            what: "tabular: a negative cost",
            args: run(file(&tabular(
                "negcost",
                "ops,acc,s\na b,90,5\nb a,91,-6\n",
                "cost = \"s\"",
            ))),
            needle: "negcost.csv: data row 1, file line 3, column `s`: the `cost` (simulated training seconds) must be >= 0, found -6",
        },
        Case {
            what: "objectives: a range of three numbers",
            args: run(file(&format!(
                "objectives = [{{ metric = \"val_acc\", goal = \"maximize\", range = [0, 10, 20] }}, \
                 {{ metric = \"params_m\", goal = \"minimize\" }}]\n{b}"
            ))),
            needle: "invalid length 3, expected two numbers [lo, hi]",
        },
        Case {
            what: "tabular: description both as a file and inline",
            args: run(file(&format!(
                "{}\n[benchmark.table]\ndata = \"twice.csv\"\n\
                 objective = {{ column = \"acc\", goal = \"maximize\" }}\n\
                 [[benchmark.table.architecture]]\ncolumn = \"ops\"\n",
                tabular("both", &format!("ops,acc,s\n{rows}"), "")
            ))),
            needle: "takes either `description = \"FILE.toml\"` or an inline [benchmark.table], not both",
        },
    ]);

    // Multi-fidelity (issue 23): fidelity levels and the [scheduler].
    let levels = |value: u32, objective: &str| {
        format!(
            "cost = \"s\"\n[fidelity]\nfull = 200\n[[fidelity.levels]]\nvalue = {value}\n\
             objective = \"{objective}\"\ncost_scale = 0.06"
        )
    };
    let fid_rows = "ops,acc,s,acc12\na b,90,5,50\nb a,91,6,51\na a,89,7,49\nb b,92,8,52\n";
    let scheduled = |name: &str, levels: &str, scheduler: &str| {
        format!(
            "{}\n[scheduler]\n{scheduler}\n",
            tabular(name, fid_rows, levels)
        )
    };
    cases.extend([
        Case {
            what: "fidelity: a level names a missing column",
            args: run(file(&scheduled("fidmiss", &levels(12, "nope"), "type = \"asha\""))),
            needle: "missing column `nope` (the fidelity.levels objective)",
        },
        Case {
            what: "fidelity: levels out of order",
            args: run(file(&scheduled("fidorder", &levels(300, "acc12"), "type = \"asha\""))),
            needle: "`fidelity.levels` must be in increasing order of `value`, each below `full` (200), but 300 comes before 200",
        },
        Case {
            what: "scheduler: eta below 2",
            args: run(file(&scheduled("fideta", &levels(12, "acc12"), "type = \"asha\"\neta = 1"))),
            needle: "[scheduler] eta must be at least 2",
        },
        Case {
            what: "scheduler: min_fidelity above max_fidelity",
            args: run(file(&scheduled(
                "fidminmax",
                &levels(12, "acc12"),
                "type = \"hyperband\"\nmin_fidelity = 200\nmax_fidelity = 12",
            ))),
            needle: "[scheduler] min_fidelity (200) is above max_fidelity (12)",
        },
        Case {
            what: "scheduler: a fidelity the table does not have",
            args: run(file(&scheduled("fidnone", &levels(12, "acc12"), "type = \"asha\"\nmin_fidelity = 50"))),
            needle: "[scheduler] min_fidelity = 50 is not a fidelity of the benchmark (12, 200)",
        },
        Case {
            what: "scheduler: a table without [fidelity] levels",
            args: run(file(&format!(
                "{}\n[scheduler]\ntype = \"hyperband\"\n",
                tabular("nolevels", fid_rows, "cost = \"s\"")
            ))),
            needle: "[scheduler] type = \"hyperband\" needs an evaluator with fidelity levels",
        },
        Case {
            what: "command: {fidelity} without `fidelities`",
            args: run(file(&format!(
                "{b}\n[evaluator]\ntype = \"command\"\n[evaluator.command]\n\
                 command = [\"python3\", \"x.py\", \"{{fidelity}}\"]\n"
            ))),
            needle: "{fidelity} needs `fidelities = [...]`",
        },
        Case {
            what: "slurm: {checkpoint_dir} without `fidelities`",
            args: run(file(&format!(
                "{b}\n[evaluator]\ntype = \"slurm\"\n[evaluator.slurm]\n\
                 command = [\"python3\", \"x.py\", \"{{checkpoint_dir}}\"]\n"
            ))),
            needle: "{checkpoint_dir} needs `fidelities = [...]`",
        },
        Case {
            what: "scheduler: a slurm fidelity that is not one of its `fidelities`",
            args: run(file(&format!(
                "{b}\n[scheduler]\ntype = \"asha\"\nmax_fidelity = 5\n[evaluator]\ntype = \"slurm\"\n\
                 [evaluator.slurm]\ncommand = [\"python3\", \"x.py\", \"{{fidelity}}\"]\nfidelities = [1, 3, 9]\n"
            ))),
            needle: "[scheduler] max_fidelity = 5 is not a fidelity of the benchmark (1, 3, 9)",
        },
        Case {
            what: "scheduler: an evaluator without fidelity levels",
            args: run(file(&format!("{b}\n[scheduler]\ntype = \"successive_halving\"\n"))),
            needle: "[scheduler] type = \"successive_halving\" needs an evaluator with fidelity levels",
        },
    ]);

    // Report points outside the budget and repeated sizes (issue 21).
    let comparison = |report_at: &str| {
        format!(
            "name = \"c\"\nseeds = 2\ndatasets = [\"cifar10\"]\nreport_at = {report_at}\n\
             [budget]\nmax_queries = 20\n[[experiments]]\nlabel = \"RS\"\n\
             strategy = {{ type = \"random\" }}\n"
        )
    };
    let compare = |f: String| vec!["compare".to_string(), f, "--out".into(), o.clone()];
    cases.extend([
        Case {
            what: "compare: a scheduler on NAS-Bench-201 (refused before any experiment runs)",
            args: compare(file(&format!(
                "{}[[experiments]]\nlabel = \"ASHA\"\nstrategy = {{ type = \"random\" }}\n\
                 scheduler = {{ type = \"asha\" }}\n",
                comparison("[10]")
            ))),
            needle: "[scheduler] type = \"asha\" needs an evaluator with fidelity levels",
        },
        Case {
            what: "compare: report_at beyond the budget",
            args: compare(file(&comparison("[10, 1000000]"))),
            needle: "`report_at` holds 1000000, beyond the budget's max_queries (20): no run gets there",
        },
        Case {
            what: "compare: --seeds beyond the most runs",
            args: [compare(file(&comparison("[10]"))), vec!["--seeds".into(), "1000001".into()]].concat(),
            needle: "--seeds must be between 1 and 100000, got 1000001",
        },
        Case {
            what: "compare: --threads 0",
            args: [compare(file(&comparison("[10]"))), vec!["--threads".into(), "0".into()]].concat(),
            needle: "--threads must be between 1 and 1024, got 0",
        },
        Case {
            what: "compare: report_at = 0",
            args: compare(file(&comparison("[0, 10]"))),
            needle: "`report_at` holds 0: query counts start at 1",
        },
        Case {
            what: "compare: report_at twice",
            args: compare(file(&comparison("[10, 20, 10]"))),
            needle: "`report_at` holds 10 twice",
        },
        Case {
            what: "[evaluation] train_sizes twice",
            args: predictors(file(
                &eval("", "type = \"random\"")
                    .replace("train_sizes = [10]", "train_sizes = [10, 10, 10]"),
            )),
            needle: "`evaluation.train_sizes` holds 10 twice",
        },
    ]);

    // Names that a terminal or a folder would misread (issue 21): the experiment-name rule, in
    // experiment files and tabular descriptions alike.
    let long = "n".repeat(300);
    tabular(
        "longname",
        &format!("ops,acc,s\n{rows}"),
        &format!("name = \"{long}\""),
    );
    cases.extend([
        Case {
            what: "name with a right-to-left override (U+202E)",
            args: run(file(&b.replace("name = \"nb201-re\"", "name = \"abc\\u202Egpj\""))),
            needle: "`name` \"abc\\u{202e}gpj\" must not contain Unicode format characters",
        },
        Case {
            what: "tabular: description name with an escape sequence",
            args: run(file(&tabular(
                "escname",
                &format!("ops,acc,s\n{rows}"),
                "name = \"\\u001b[2J\\u001b[31mred\"",
            ))),
            needle: "escname.tabular.toml: invalid tabular description: `name` \"\\u{1b}[2J\\u{1b}[31mred\" must not contain control characters",
        },
        Case {
            what: "compare: tabular description name of 300 characters",
            args: compare(file(&format!(
                "{}[benchmark]\ntype = \"tabular\"\ndescription = \"longname.tabular.toml\"\n",
                comparison("[10]").replace("datasets = [\"cifar10\"]\n", "")
            ))),
            needle: "longname.tabular.toml: invalid tabular description: `name` \"nnnn",
        },
    ]);

    // Numbers above 2^63 - 1, which a TOML file cannot hold (issue 21): refused as numbers.
    let big = "18446744073709551615";
    cases.extend([
        Case {
            what: "--seed 2^64-1",
            args: [run(file(&b)), vec!["--seed".into(), big.into()]].concat(),
            needle: "--seed 18446744073709551615 is above the largest seed, 9223372036854775807",
        },
        Case {
            what: "compare --seed 2^64-1",
            args: [
                compare(file(&comparison("[10]"))),
                vec!["--seed".into(), big.into()],
            ]
            .concat(),
            needle: "--seed 18446744073709551615 is above the largest seed",
        },
        Case {
            what: "--set with an integer above 2^63-1",
            args: [
                run(file(&b)),
                vec!["--set".into(), format!("strategy.population_size={big}")],
            ]
            .concat(),
            needle: "--set strategy.population_size=18446744073709551615: 18446744073709551615 is out of range",
        },
    ]);

    // Declared spaces: the example, each case one edit of it (or a space file).
    let d = std::fs::read_to_string(root().join("examples/declared_command.toml")).unwrap();
    let train = std::fs::read_to_string(root().join("examples/declared_train.toml")).unwrap();
    let joined = common::example_anywhere("declared_nb201_table.toml");
    let edit = |from: &str, to: &str| {
        assert!(d.contains(from), "{from}");
        d.replacen(from, to, 1)
    };
    let (head, rest) = d.split_once("[benchmark.space]").unwrap();
    let tail = &rest[rest.find("[strategy]").unwrap()..];
    let with_space_file = |sp: String| format!("{head}description = {sp:?}\n\n{tail}");
    cases.extend(vec![
        Case {
            what: "declared space without dimensions (a space file)",
            args: {
                let sp = file("name = \"empty\"\n");
                run(file(&with_space_file(sp)))
            },
            needle: "dimension: the space has no dimensions",
        },
        Case {
            what: "declared space file: unknown key",
            args: {
                let sp = file("[[dimension]]\nname = \"a\"\nvalus = [1, 2]\n");
                run(file(&with_space_file(sp)))
            },
            needle: ":3:1: unknown field `valus`",
        },
        Case {
            what: "declared space with one member (a space file)",
            args: {
                let sp = file("[[dimension]]\nname = \"a\"\nvalues = [1]\n");
                run(file(&with_space_file(sp)))
            },
            needle: "the space has one member",
        },
        Case {
            what: "declared dimension with empty values",
            args: run(file(&edit("values = [2, 3, 4]", "values = []"))),
            needle: "[benchmark.space] dimension \"depth\": `values` is empty",
        },
        Case {
            what: "declared dimensions with the same name",
            args: run(file(&edit("name = \"width4\"", "name = \"width3\""))),
            needle: "dimension \"width3\": `name` is used by two dimensions",
        },
        Case {
            what: "declared repeat = 0",
            args: run(file(&edit("repeat = 2", "repeat = 0"))),
            needle: "dimension \"width\": `repeat` = 0",
        },
        Case {
            what: "declared condition on an unknown dimension",
            args: run(file(&edit(
                "when = { depth = [4] }",
                "when = { deep = [4] }",
            ))),
            needle: "dimension \"width4\", `when`: names the unknown dimension \"deep\"",
        },
        Case {
            what: "declared condition on an unknown value",
            args: run(file(&edit(
                "when = { depth = [4] }",
                "when = { depth = [5] }",
            ))),
            needle: "\"5\" is not a value of \"depth\"",
        },
        Case {
            what: "declared cyclic conditions",
            args: run(file(&edit(
                "values = [2, 3, 4]",
                "values = [2, 3, 4]\nwhen = { width4 = [16] }",
            ))),
            needle: "`when`: the conditions form a cycle",
        },
        Case {
            what: "declared range with lo > hi",
            args: run(file(&edit("range = [16, 64]", "range = [64, 16]"))),
            needle: "dimension \"width\": `range` = [64, 16] has lo > hi",
        },
        Case {
            what: "declared range with step <= 0",
            args: run(file(&edit("step = 16", "step = 0"))),
            needle: "dimension \"width\": `step` = 0 must be positive",
        },
        Case {
            what: "declared cell with fewer than 2 nodes",
            args: run(file(&edit("nodes = 4", "nodes = 1"))),
            needle: "dimension \"cell\": `nodes` = 1 must be between 2 and 8",
        },
        Case {
            what: "declared cell without ops",
            args: run(file(&edit(
                "ops = [\"none\", \"skip_connect\", \"conv\", \"pool\"]",
                "ops = []",
            ))),
            needle: "dimension \"cell\": a cell needs `ops`",
        },
        Case {
            what: "declared space without an evaluator",
            args: run(file(&edit(
                "type = \"command\"\nworkers = 2",
                "type = \"nasbench201\"",
            ))),
            needle: "needs [evaluator] type = \"command\" or \"slurm\"",
        },
        Case {
            what: "declared space trained, not one cell",
            args: run(file(&format!(
                "{}{}",
                &d[..d.find("[strategy]").unwrap()],
                &train[train.find("[strategy]").unwrap()..]
            ))),
            needle:
                "dimension \"depth\": [evaluator] type = \"train\" trains a space of exactly one",
        },
        Case {
            what: "a table join on a benchmark that is not declared",
            args: run(file(&format!(
                "{b}\n[benchmark.join]\ndescription = \"t.toml\"\nkey = {{}}\n"
            ))),
            needle: "[benchmark.join] apply to type = \"tabular\" or \"declared\" only",
        },
        Case {
            what: "declared space joined by an unknown column",
            args: run(file(
                &joined.replace("key = { cell = \"ops\" }", "key = { cell = \"op\" }"),
            )),
            needle: "[benchmark.join] `key`: \"op\" is not an architecture column",
        },
        Case {
            what: "declared space joined to a table and given an evaluator",
            args: run(file(&format!("{joined}\n[evaluator]\ntype = \"train\"\n"))),
            needle: "[benchmark.join] looks the members up in its table: leave [evaluator] out",
        },
        Case {
            what: "declared cell trained, an op train cannot build",
            args: run(file(
                &train.replace("\"avg_pool_3x3\"]", "\"sep_conv_3x3\"]"),
            )),
            needle: "dimension \"cell\", `ops`: \"sep_conv_3x3\" is not an op",
        },
    ]);

    let mut table = String::from(
        "| # | bad input | exit | message (first 150 characters) |\n|---|---|---|---|\n",
    );
    // The pool protocol of eval-predictors (issue 26): refused before the search runs.
    // The experiments beside the files (the errors name them under $TMP).
    let filtered = "filtered.toml";
    std::fs::write(dir.join(filtered), emprox_filter()).unwrap();
    std::fs::write(dir.join("nb201_evolution.toml"), base()).unwrap();
    let pools = |benchmark: &str, experiment: &str, extra: &str| {
        format!(
            "{benchmark}[evaluation]\nprotocol = \"pools\"\nexperiment = \"{experiment}\"\n\
             {extra}\n[[estimators]]\ntype = \"random\"\n"
        )
    };
    cases.extend([
        Case {
            what: "pool protocol: an unknown [evaluation] key",
            args: predictors(file(&pools("", filtered, "pools_per_rnge = 3"))),
            needle: "unknown field `pools_per_rnge`",
        },
        Case {
            what: "pool protocol: a [benchmark] that is not the experiment's",
            args: predictors(file(&pools(
                "[benchmark]\ntype = \"nasbench201\"\ndataset = \"cifar100\"\n",
                filtered,
                "",
            ))),
            needle: "its [benchmark] is not the experiment's",
        },
        Case {
            what: "pool protocol: an experiment without a filter",
            args: predictors(file(&pools("", "nb201_evolution.toml", ""))),
            needle: "has no `[estimator]` and `[filter]`",
        },
        Case {
            what: "pool protocol: a NASLib key (train_sizes)",
            args: predictors(file(&pools("", filtered, "train_sizes = [10]"))),
            needle: "unknown field `train_sizes`",
        },
    ]);

    for (i, c) in cases.iter().enumerate() {
        let o = Command::new(env!("CARGO_BIN_EXE_emprox"))
            .args(&c.args)
            .current_dir(root())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{}: {err}", c.what);
        assert!(!err.contains("panicked"), "{}: {err}", c.what);
        assert!(
            err.contains(c.needle),
            "{}: expected {:?} in {err}",
            c.what,
            c.needle
        );
        let msg = err
            .trim()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect::<Vec<_>>();
        assert_eq!(msg.len(), 1, "{}: one error line: {err}", c.what);
        assert!(!out.exists(), "{}: no output folder is left behind", c.what);
        let shown: String = msg[0]
            .replace(dir.to_str().unwrap(), "$TMP")
            .chars()
            .take(150)
            .collect();
        table.push_str(&format!(
            "| {} | {} | 2 | `{}` |\n",
            i + 1,
            c.what,
            shown.replace('|', "\\|").replace('`', "'")
        ));
    }
    assert!(cases.len() >= 30);
    if let Ok(p) = std::env::var("EMPROX_BAD_INPUT_TABLE") {
        let head = "# Bad input: what each gets\n\nGenerated by `EMPROX_BAD_INPUT_TABLE=docs/bad-inputs.md cargo test --release -p emprox-engine --test bad_inputs`\n(do not edit by hand). Each case runs through the real binary: exit code 2, exactly one error\nline, no panic, and no output folder left behind. More refusals that protect files (overwrite,\nlocks, the result cache) are tested in `engine/tests/safety.rs`.\n\n";
        std::fs::write(p, format!("{head}{table}")).unwrap();
    }
}

fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("seed-0")).unwrap();
    for f in ["config.resolved.toml", "run.json", "seed-0/trials.jsonl"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}
