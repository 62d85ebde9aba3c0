rule report:
    input:
        unpack(report_inputs),
    output:
        report=report("results/report.html", caption="../report/report.rst", category="Report"),
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../envs/report.yaml"
    resources:
        **job_resources("report"),
    params:
        call=stage_call("report"),
        files=stage_files,
    shell:
        stage_shell("report")
