rule report:
    input:
        tiles=f"{DATA}/tiles/tiles.csv",
        images=f"{DATA}/tiles/images.npy",
        masks=f"{DATA}/tiles/masks.npy",
        splits="results/split/splits.json",
        weak_labels="results/weak_labels/weak_labels.csv",
        weak_summary="results/weak_labels/summary.csv",
        preview="results/augment/preview.png",
        histories=expand("results/models/{variant}/history.csv", variant=VARIANTS),
        metrics=expand("results/eval/{variant}/metrics.json", variant=VARIANTS),
        per_class=expand("results/eval/{variant}/per_class.csv", variant=VARIANTS),
        confusions=expand("results/eval/{variant}/confusion.csv", variant=VARIANTS),
        predictions=expand("results/eval/{variant}/predictions", variant=VARIANTS),
    output:
        report("results/report.html", caption="../report/report.rst", category="Report"),
    params:
        config=as_json(config),
        dataset=DATASET,
        variants=VARIANTS,
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../envs/report.yaml"
    shell:
        "python scripts/report.py --config-json {params.config:q} --dataset {params.dataset} --tiles {input.tiles}"
        " --images {input.images} --masks {input.masks} --splits {input.splits} --weak-labels {input.weak_labels}"
        " --weak-summary {input.weak_summary} --preview {input.preview} --variants {params.variants}"
        " --histories {input.histories} --metrics {input.metrics} --per-class {input.per_class}"
        " --confusions {input.confusions} --predictions {input.predictions} --benchmarks $(find results/benchmarks -name '*.tsv' ! -name report.tsv | sort)"
        " --out {output} 2> {log}"
