rule evaluate:
    input:
        unpack(evaluate_inputs),
        scene_images=scene_inputs("image", SCORES_SCENES),
        scene_labels=scene_inputs("scoring_label", SCORES_SCENES),
    output:
        metrics="results/eval/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/metrics.json",
        per_class=report(
            "results/eval/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/per_class.csv",
            caption="../report/per_class.rst",
            category="Evaluation",
            subcategory="{variant}",
        ),
        confusion="results/eval/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/confusion.csv",
        predictions=report(
            directory(
                "results/eval/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/predictions"
            ),
            patterns=["{tile}.png"],
            caption="../report/predictions.rst",
            category="Evaluation",
            subcategory="{variant}",
        ),
    log:
        "results/logs/evaluate/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}.log",
    benchmark:
        "results/benchmarks/evaluate/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        **job_resources("evaluate"),
        gpu_lease=GPU_LEASE,
    params:
        call=stage_call("evaluate"),
        files=stage_files,
    shell:
        stage_shell("evaluate")


rule summary:
    input:
        metrics=[run_output("evaluate", "metrics", run) for run in RUNS],
        train_benchmarks=[run_output("train", "benchmark", run) for run in RUNS],
        eval_benchmarks=[run_output("evaluate", "benchmark", run) for run in RUNS],
    output:
        summary=report("results/summary.csv", caption="../report/summary.rst", category="Report"),
    log:
        "results/logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    conda:
        "../envs/report.yaml"
    resources:
        **job_resources("summary"),
    params:
        call=stage_call("summary"),
        files=stage_files,
    shell:
        stage_shell("summary")
