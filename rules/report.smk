rule report:
    input:
        unpack(report_inputs),
    output:
        report("results/report.html", caption="../report/report.rst", category="Report"),
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../envs/report.yaml"
    resources:
        **job_resources("report"),
    params:
        config=as_json(config),
        dataset=DATASET,
        main_runs=[run.path for run in MAIN_RUNS],
    shell:
        "python scripts/report.py --config-json {params.config:q} --dataset {params.dataset:q} --summary {input.summary:q}"
        " --tiles {input.tiles:q} --images {input.images:q} --masks {input.masks:q} --splits {input.splits:q}"
        " --weak-labels {input.weak_labels:q} --stats {input.stats:q} --weak-summary {input.weak_summary:q} --preview {input.preview:q}"
        " --template {input.template:q} --css {input.css:q} --main-runs {params.main_runs:q}"
        " --histories {input.histories:q} --confusions {input.confusions:q} --predictions {input.predictions:q}"
        " --benchmarks {input.benchmarks:q} --out {output:q} 2> {log:q}"
