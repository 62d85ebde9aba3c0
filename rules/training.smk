# One rule for every run: the wildcards pick a variant from weakseg.experiment.VARIANTS, a
# strong fraction ("all" for full), a seed and a grid point ("default" or e.g.
# "training.lr~0.001,training.batch_size~8").


rule train:
    input:
        unpack(train_inputs),
    output:
        model="results/models/{variant}/strong-{fraction}/seed-{seed}/{point}/model.pt",
        last="results/models/{variant}/strong-{fraction}/seed-{seed}/{point}/last.pt",
        history="results/models/{variant}/strong-{fraction}/seed-{seed}/{point}/history.csv",
        tensorboard=directory("results/models/{variant}/strong-{fraction}/seed-{seed}/{point}/tensorboard"),
    log:
        "results/logs/train/{variant}/strong-{fraction}/seed-{seed}/{point}.log",
    benchmark:
        "results/benchmarks/train/{variant}/strong-{fraction}/seed-{seed}/{point}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        **job_resources("train"),
        gpu_lease=GPU_LEASE,
    params:
        run=lambda wildcards: as_json(run_settings(config, run_of(wildcards))),
        tiles_dir=lambda wildcards, input: os.path.dirname(input.tiles),
        pipelines_dir=lambda wildcards, input: os.path.dirname(input.strong_pipeline),
        offline_dir=lambda wildcards, input: os.path.dirname(input.offline),
        init=lambda wildcards, input: shlex.join(["--init-from", input.init]) if "init" in input.keys() else "",
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
    shell:
        "python scripts/train.py --run {params.run:q} --tiles-dir {params.tiles_dir:q} --splits {input.splits:q}"
        " --weak-labels {input.weak_labels:q} --pipelines-dir {params.pipelines_dir:q} --offline-dir {params.offline_dir:q}"
        " --stats {input.stats:q} {params.init} --threads {threads:q} --out-dir {params.out_dir:q} {resources.gpu_lease} 2> {log:q}"
