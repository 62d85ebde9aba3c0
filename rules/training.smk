rule train_strong:
    input:
        tiles=f"{DATA}/tiles/tiles.csv",
        images=f"{DATA}/tiles/images.npy",
        masks=f"{DATA}/tiles/masks.npy",
        splits="results/split/splits.json",
        weak_labels="results/weak_labels/weak_labels.csv",
        pipeline="results/augment/strong.yaml",
        offline="results/augment/offline/copies.csv",
    output:
        model="results/models/strong_only/model.pt",
        last="results/models/strong_only/last.pt",
        history="results/models/strong_only/history.csv",
        tensorboard=directory("results/models/strong_only/tensorboard"),
    params:
        tiles_dir=lambda wildcards, input: os.path.dirname(input.tiles),
        offline_dir=lambda wildcards, input: os.path.dirname(input.offline),
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
        model=as_json(config["model"]),
        training=as_json(config["training"]),
    threads: 2
    resources:
        gpu=1,
    log:
        "results/logs/train_strong.log",
    benchmark:
        "results/benchmarks/train_strong.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python scripts/train.py --mode strong --tiles-dir {params.tiles_dir} --splits {input.splits}"
        " --weak-labels {input.weak_labels} --pipeline {input.pipeline} --offline-dir {params.offline_dir}"
        " --model {params.model:q} --training {params.training:q} --threads {threads}"
        " --out-dir {params.out_dir} 2> {log}"


rule pretrain_weak:
    input:
        tiles=f"{DATA}/tiles/tiles.csv",
        images=f"{DATA}/tiles/images.npy",
        masks=f"{DATA}/tiles/masks.npy",
        splits="results/split/splits.json",
        weak_labels="results/weak_labels/weak_labels.csv",
        pipeline="results/augment/weak.yaml",
        offline="results/augment/offline/copies.csv",
    output:
        model="results/models/weak_only/model.pt",
        last="results/models/weak_only/last.pt",
        history="results/models/weak_only/history.csv",
        tensorboard=directory("results/models/weak_only/tensorboard"),
    params:
        tiles_dir=lambda wildcards, input: os.path.dirname(input.tiles),
        offline_dir=lambda wildcards, input: os.path.dirname(input.offline),
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
        model=as_json(config["model"]),
        training=as_json({**config["pretraining"], **device_settings()}),
    threads: 2
    resources:
        gpu=1,
    log:
        "results/logs/pretrain_weak.log",
    benchmark:
        "results/benchmarks/pretrain_weak.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python scripts/train.py --mode weak --tiles-dir {params.tiles_dir} --splits {input.splits}"
        " --weak-labels {input.weak_labels} --pipeline {input.pipeline} --offline-dir {params.offline_dir}"
        " --model {params.model:q} --training {params.training:q} --threads {threads}"
        " --out-dir {params.out_dir} 2> {log}"


rule finetune:
    input:
        tiles=f"{DATA}/tiles/tiles.csv",
        images=f"{DATA}/tiles/images.npy",
        masks=f"{DATA}/tiles/masks.npy",
        splits="results/split/splits.json",
        weak_labels="results/weak_labels/weak_labels.csv",
        pipeline="results/augment/strong.yaml",
        offline="results/augment/offline/copies.csv",
        pretrained="results/models/weak_only/model.pt",
    output:
        model="results/models/weak_finetuned/model.pt",
        last="results/models/weak_finetuned/last.pt",
        history="results/models/weak_finetuned/history.csv",
        tensorboard=directory("results/models/weak_finetuned/tensorboard"),
    params:
        tiles_dir=lambda wildcards, input: os.path.dirname(input.tiles),
        offline_dir=lambda wildcards, input: os.path.dirname(input.offline),
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
        model=as_json(config["model"]),
        training=as_json(config["training"]),
    threads: 2
    resources:
        gpu=1,
    log:
        "results/logs/finetune.log",
    benchmark:
        "results/benchmarks/finetune.tsv"
    conda:
        "../envs/torch.yaml"
    shell:
        "python scripts/train.py --mode strong --tiles-dir {params.tiles_dir} --splits {input.splits}"
        " --weak-labels {input.weak_labels} --pipeline {input.pipeline} --offline-dir {params.offline_dir}"
        " --model {params.model:q} --training {params.training:q} --init-from {input.pretrained}"
        " --threads {threads} --out-dir {params.out_dir} 2> {log}"
