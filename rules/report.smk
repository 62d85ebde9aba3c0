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
    params:
        config=as_json(config),
        dataset=DATASET,
        main_runs=[run.path for run in MAIN_RUNS],
    shell:
        "python scripts/report.py --config-json {params.config:q} --dataset {params.dataset} --summary {input.summary}"
        " --tiles {input.tiles} --images {input.images} --masks {input.masks} --splits {input.splits}"
        " --weak-labels {input.weak_labels} --stats {input.stats} --weak-summary {input.weak_summary} --preview {input.preview}"
        " --template {input.template} --css {input.css} --main-runs {params.main_runs:q}"
        " --histories {input.histories:q} --confusions {input.confusions:q} --predictions {input.predictions:q}"
        " --benchmarks {input.benchmarks:q} --out {output} 2> {log}"
