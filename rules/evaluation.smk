rule evaluate:
    input:
        unpack(evaluate_inputs),
        scene_images=scene_inputs("image", SCORES_SCENES),
        scene_labels=scene_inputs("label", SCORES_SCENES),
    output:
        metrics="results/eval/{variant}/strong-{fraction}/seed-{seed}/{point}/metrics.json",
        per_class=report(
            "results/eval/{variant}/strong-{fraction}/seed-{seed}/{point}/per_class.csv",
            caption="../report/per_class.rst",
            category="Evaluation",
            subcategory="{variant}",
        ),
        confusion="results/eval/{variant}/strong-{fraction}/seed-{seed}/{point}/confusion.csv",
        predictions=report(
            directory("results/eval/{variant}/strong-{fraction}/seed-{seed}/{point}/predictions"),
            patterns=["{tile}.png"],
            caption="../report/predictions.rst",
            category="Evaluation",
            subcategory="{variant}",
        ),
    log:
        "results/logs/evaluate/{variant}/strong-{fraction}/seed-{seed}/{point}.log",
    benchmark:
        "results/benchmarks/evaluate/{variant}/strong-{fraction}/seed-{seed}/{point}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        **job_resources("evaluate"),
        gpu_lease=GPU_LEASE,
    params:
        run=run_identity,
        tiles_dir=f"{DATA}/tiles",
        out_dir=lambda wildcards, output: os.path.dirname(output.metrics),
        dataset=DATASET,
        scored_set=SCORED_SET,
        batch_size=config["evaluation"]["batch_size"],
        gallery_tiles=config["evaluation"]["gallery_tiles"],
        device=config["training"]["device"],
        scenes=lambda wildcards, input: scene_options(input),
    shell:
        "python scripts/evaluate.py --run {params.run:q} --model {input.model:q} --tiles-dir {params.tiles_dir:q}"
        " --splits {input.splits:q} --weak-labels {input.weak_labels:q} --dataset {params.dataset:q}"
        " --scored-set {params.scored_set:q} --batch-size {params.batch_size:q} --gallery-tiles {params.gallery_tiles:q}"
        " --device {params.device:q} --threads {threads:q} --out-dir {params.out_dir:q} {params.scenes} {resources.gpu_lease}"
        " 2> {log:q}"


rule summary:
    input:
        metrics=[f"results/eval/{run.path}/metrics.json" for run in RUNS],
        train_benchmarks=[f"results/benchmarks/train/{run.path}.tsv" for run in RUNS],
        eval_benchmarks=[f"results/benchmarks/evaluate/{run.path}.tsv" for run in RUNS],
    output:
        report("results/summary.csv", caption="../report/summary.rst", category="Report"),
    log:
        "results/logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    conda:
        "../envs/report.yaml"
    resources:
        **job_resources("summary"),
    shell:
        "python scripts/summarize.py --metrics {input.metrics:q} --train-benchmarks {input.train_benchmarks:q}"
        " --eval-benchmarks {input.eval_benchmarks:q} --out {output:q} 2> {log:q}"
