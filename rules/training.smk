# One rule for every run: the wildcards pick a variant from weakseg.design.experiment.VARIANTS, a
# strong fraction ("all" for full), a seed and a grid point ("default" or e.g.
# "training.lr~0.001,training.batch_size~8").


rule train:
    input:
        unpack(train_inputs),
    output:
        model="results/models/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/model.pt",
        last="results/models/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/last.pt",
        history="results/models/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/history.csv",
        tensorboard=directory(
            "results/models/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}/tensorboard"
        ),
    log:
        "results/logs/train/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}.log",
    benchmark:
        "results/benchmarks/train/{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        **job_resources("train"),
        gpu_lease=GPU_LEASE,
    params:
        call=stage_call("train"),
        files=stage_files,
    shell:
        stage_shell("train")
