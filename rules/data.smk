checkpoint download:
    output:
        directory("data/{dataset}/raw"),
    params:
        settings=download_settings(),
    log:
        "results/logs/download/{dataset}.log",
    benchmark:
        "results/benchmarks/download/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    shell:
        "python scripts/download.py --settings {params.settings:q} --out {output} 2> {log}"


rule prepare:
    input:
        "data/{dataset}/raw",
    output:
        image="data/{dataset}/prepared/{scene}/image.npy",
        label="data/{dataset}/prepared/{scene}/label.npy",
    params:
        snap=snap_option(),
    log:
        "results/logs/prepare/{dataset}/{scene}.log",
    benchmark:
        "results/benchmarks/prepare/{dataset}/{scene}.tsv"
    conda:
        "../envs/data.yaml"
    shell:
        "python scripts/prepare.py --raw {input} --scene {wildcards.scene} --dataset {wildcards.dataset}"
        " {params.snap} --image-out {output.image} --label-out {output.label} 2> {log}"


rule tile:
    input:
        images=prepared("image"),
        labels=prepared("label"),
    output:
        images="data/{dataset}/tiles/images.npy",
        masks="data/{dataset}/tiles/masks.npy",
        tiles="data/{dataset}/tiles/tiles.csv",
    params:
        tile_size=config["tiling"]["tile_size"],
        stride=config["tiling"]["stride"],
        min_labeled_fraction=config["tiling"]["min_labeled_fraction"],
        out_dir=lambda wildcards, output: os.path.dirname(output.tiles),
    log:
        "results/logs/tile/{dataset}.log",
    benchmark:
        "results/benchmarks/tile/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    shell:
        "python scripts/tile.py --images {input.images} --labels {input.labels} --tile-size {params.tile_size}"
        " --stride {params.stride} --min-labeled-fraction {params.min_labeled_fraction}"
        " --out-dir {params.out_dir} 2> {log}"


rule split:
    input:
        f"{DATA}/tiles/tiles.csv",
    output:
        "results/split/splits.json",
    params:
        tile_size=config["tiling"]["tile_size"],
        stride=config["tiling"]["stride"],
        fractions=as_json(config["split"]["fractions"]),
        group_by=config["split"]["group_by"],
        block_size=config["split"]["block_size"],
        seed=config["split"]["seed"],
    log:
        "results/logs/split.log",
    benchmark:
        "results/benchmarks/split.tsv"
    conda:
        "../envs/data.yaml"
    shell:
        "python scripts/split.py --tiles {input} --tile-size {params.tile_size} --stride {params.stride}"
        " --fractions {params.fractions:q} --group-by {params.group_by} --block-size {params.block_size}"
        " --seed {params.seed} --out {output} 2> {log}"


rule weak_labels:
    input:
        masks=f"{DATA}/tiles/masks.npy",
        tiles=f"{DATA}/tiles/tiles.csv",
        splits="results/split/splits.json",
    output:
        labels="results/weak_labels/weak_labels.csv",
        summary="results/weak_labels/summary.csv",
    params:
        dataset=DATASET,
    log:
        "results/logs/weak_labels.log",
    benchmark:
        "results/benchmarks/weak_labels.tsv"
    conda:
        "../envs/data.yaml"
    shell:
        "python scripts/weak_labels.py --masks {input.masks} --tiles {input.tiles} --splits {input.splits}"
        " --dataset {params.dataset} --out {output.labels} --summary {output.summary} 2> {log}"


rule augment:
    input:
        images=f"{DATA}/tiles/images.npy",
        masks=f"{DATA}/tiles/masks.npy",
        tiles=f"{DATA}/tiles/tiles.csv",
        splits="results/split/splits.json",
    output:
        strong="results/augment/strong.yaml",
        weak="results/augment/weak.yaml",
        preview=report("results/augment/preview.png", caption="../report/augment.rst", category="Data"),
        offline_images="results/augment/offline/images.npy",
        offline_masks="results/augment/offline/masks.npy",
        offline_copies="results/augment/offline/copies.csv",
    params:
        settings=as_json(config["augment"]),
        dataset=DATASET,
        out_dir=lambda wildcards, output: os.path.dirname(output.strong),
    log:
        "results/logs/augment.log",
    benchmark:
        "results/benchmarks/augment.tsv"
    conda:
        "../envs/data.yaml"
    shell:
        "python scripts/augment.py --settings {params.settings:q} --images {input.images} --masks {input.masks}"
        " --tiles {input.tiles} --splits {input.splits} --dataset {params.dataset} --out-dir {params.out_dir} 2> {log}"
