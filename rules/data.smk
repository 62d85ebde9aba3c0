checkpoint download:
    output:
        directory("data/{dataset}/raw"),
    log:
        "results/logs/download/{dataset}.log",
    benchmark:
        "results/benchmarks/download/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("download"),
    params:
        settings=download_settings(),
    shell:
        "python scripts/download.py --settings {params.settings:q} --out {output:q} 2> {log:q}"


rule prepare:
    input:
        "data/{dataset}/raw",
    output:
        image="data/{dataset}/prepared/{scene}/image.npy",
        label="data/{dataset}/prepared/{scene}/label.npy",
    log:
        "results/logs/prepare/{dataset}/{scene}.log",
    benchmark:
        "results/benchmarks/prepare/{dataset}/{scene}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("prepare"),
        # One slot per scene: a profile's --resources scene_slots=N bounds how many run side by
        # side in a group job (profiles/slurm), and so the memory it asks for.
        scene_slots=1,
    params:
        snap=snap_option(),
        resize=resize_option(),
    shell:
        "python scripts/prepare.py --raw {input:q} --scene {wildcards.scene:q} --dataset {wildcards.dataset:q}"
        " {params.snap} {params.resize} --image-out {output.image:q} --label-out {output.label:q} 2> {log:q}"


rule tile:
    input:
        images=prepared("image"),
        labels=prepared("label"),
    output:
        images="data/{dataset}/tiles/images.npy",
        masks="data/{dataset}/tiles/masks.npy",
        tiles="data/{dataset}/tiles/tiles.csv",
    log:
        "results/logs/tile/{dataset}.log",
    benchmark:
        "results/benchmarks/tile/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("tile"),
    params:
        tile_size=config["tiling"]["tile_size"],
        stride=config["tiling"]["stride"],
        min_labeled_fraction=config["tiling"]["min_labeled_fraction"],
        shorter_side=shorter_side_option(),
        out_dir=lambda wildcards, output: os.path.dirname(output.tiles),
    shell:
        "python scripts/tile.py --images {input.images:q} --labels {input.labels:q} --tile-size {params.tile_size:q}"
        " --stride {params.stride:q} --min-labeled-fraction {params.min_labeled_fraction:q}"
        " {params.shorter_side} --out-dir {params.out_dir:q} 2> {log:q}"


rule split:
    input:
        f"{DATA}/tiles/tiles.csv",
    output:
        "results/split/seed-{split_seed}/splits.json",
    log:
        "results/logs/split/seed-{split_seed}.log",
    benchmark:
        "results/benchmarks/split/seed-{split_seed}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("split"),
    params:
        tile_size=config["tiling"]["tile_size"],
        stride=config["tiling"]["stride"],
        fractions=as_json(config["split"]["fractions"]),
        group_by=config["split"]["group_by"],
        block_size=config["split"]["block_size"],
        dataset=DATASET,
        official_test=lambda wildcards: (
            shlex.join(["--official-test-of", DATASET]) if config["split"]["use_official_test"] else ""
        ),
    shell:
        "python scripts/split.py --tiles {input:q} --tile-size {params.tile_size:q} --stride {params.stride:q}"
        " --fractions {params.fractions:q} --group-by {params.group_by:q} --block-size {params.block_size:q}"
        " --dataset {params.dataset:q} --seed {wildcards.split_seed:q} {params.official_test} --out {output:q} 2> {log:q}"


rule weak_labels:
    input:
        masks=f"{DATA}/tiles/masks.npy",
        tiles=f"{DATA}/tiles/tiles.csv",
        splits="results/split/seed-{split_seed}/splits.json",
    output:
        labels="results/weak_labels/seed-{split_seed}/weak_labels.csv",
        summary="results/weak_labels/seed-{split_seed}/summary.csv",
    log:
        "results/logs/weak_labels/seed-{split_seed}.log",
    benchmark:
        "results/benchmarks/weak_labels/seed-{split_seed}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("weak_labels"),
    params:
        dataset=DATASET,
    shell:
        "python scripts/weak_labels.py --masks {input.masks:q} --tiles {input.tiles:q} --splits {input.splits:q}"
        " --dataset {params.dataset:q} --out {output.labels:q} --summary {output.summary:q} 2> {log:q}"


rule augment:
    input:
        images=f"{DATA}/tiles/images.npy",
        masks=f"{DATA}/tiles/masks.npy",
        tiles=f"{DATA}/tiles/tiles.csv",
        splits="results/split/seed-{split_seed}/splits.json",
    output:
        strong="results/augment/seed-{split_seed}/strong.yaml",
        weak="results/augment/seed-{split_seed}/weak.yaml",
        preview=report(
            "results/augment/seed-{split_seed}/preview.png", caption="../report/augment.rst", category="Data"
        ),
        offline_images="results/augment/seed-{split_seed}/offline/images.npy",
        offline_masks="results/augment/seed-{split_seed}/offline/masks.npy",
        offline_copies="results/augment/seed-{split_seed}/offline/copies.csv",
    log:
        "results/logs/augment/seed-{split_seed}.log",
    benchmark:
        "results/benchmarks/augment/seed-{split_seed}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("augment"),
    params:
        settings=as_json(config["augment"]),
        dataset=DATASET,
        frames=config["sequence"]["length"],
        out_dir=lambda wildcards, output: os.path.dirname(output.strong),
    shell:
        "python scripts/augment.py --settings {params.settings:q} --images {input.images:q} --masks {input.masks:q}"
        " --tiles {input.tiles:q} --splits {input.splits:q} --dataset {params.dataset:q} --frames {params.frames:q}"
        " --out-dir {params.out_dir:q} 2> {log:q}"


rule stats:
    input:
        images=f"{DATA}/tiles/images.npy",
        tiles=f"{DATA}/tiles/tiles.csv",
        splits="results/split/seed-{split_seed}/splits.json",
    output:
        "results/stats/seed-{split_seed}/stats.json",
    log:
        "results/logs/stats/seed-{split_seed}.log",
    benchmark:
        "results/benchmarks/stats/seed-{split_seed}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("stats"),
    params:
        frames=config["sequence"]["length"],
    shell:
        "python scripts/stats.py --images {input.images:q} --tiles {input.tiles:q} --splits {input.splits:q}"
        " --frames {params.frames:q} --out {output:q} 2> {log:q}"
