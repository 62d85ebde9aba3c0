checkpoint download:
    output:
        raw=directory("data/{dataset}/raw"),
    log:
        "results/logs/download/{dataset}.log",
    benchmark:
        "results/benchmarks/download/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("download"),
    params:
        call=stage_call("download"),
        files=stage_files,
    shell:
        stage_shell("download")


rule prepare:
    input:
        raw=rules.download.output.raw,
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
        call=stage_call("prepare"),
        files=stage_files,
    shell:
        stage_shell("prepare")


rule prepare_scoring:
    input:
        raw=rules.download.output.raw,
    output:
        label="data/{dataset}/prepared/{scene}/scoring_label.npy",
    log:
        "results/logs/prepare_scoring/{dataset}/{scene}.log",
    benchmark:
        "results/benchmarks/prepare_scoring/{dataset}/{scene}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("prepare_scoring"),
        scene_slots=1,
    params:
        call=stage_call("prepare_scoring"),
        files=stage_files,
    shell:
        stage_shell("prepare_scoring")


rule tile:
    input:
        images=prepared("image"),
        labels=prepared("label"),
    output:
        images="data/{dataset}/tiles/images.npy",
        masks="data/{dataset}/tiles/masks.npy",
        tiles="data/{dataset}/tiles/tiles.csv",
        class_pixels="data/{dataset}/tiles/class_pixels.npy",
    log:
        "results/logs/tile/{dataset}.log",
    benchmark:
        "results/benchmarks/tile/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("tile"),
    params:
        call=stage_call("tile"),
        files=stage_files,
    shell:
        stage_shell("tile")


rule split:
    input:
        tiles=tile_files()["tiles"],
    output:
        splits="results/split/seed-{split_seed}/splits.json",
    log:
        "results/logs/split/seed-{split_seed}.log",
    benchmark:
        "results/benchmarks/split/seed-{split_seed}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("split"),
    params:
        call=stage_call("split"),
        files=stage_files,
    shell:
        stage_shell("split")


# Dense kinds only (scribbles, boxes, coarse, noisy_masks): a weak mask per tile.
rule weak_masks:
    input:
        masks=tile_files()["masks"],
        tiles=tile_files()["tiles"],
        splits=rules.split.output.splits,
    output:
        masks="results/weak_labels/seed-{split_seed}/{weak_kind}/weak_masks.npy",
    log:
        "results/logs/weak_masks/seed-{split_seed}/{weak_kind}.log",
    benchmark:
        "results/benchmarks/weak_masks/seed-{split_seed}/{weak_kind}.tsv"
    wildcard_constraints:
        weak_kind="|".join(DENSE_KINDS),
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("weak_masks"),
    params:
        call=stage_call("weak_masks"),
        files=stage_files,
    shell:
        stage_shell("weak_masks")


rule weak_labels:
    input:
        unpack(weak_label_inputs),
    output:
        labels="results/weak_labels/seed-{split_seed}/{weak_kind}/weak_labels.csv",
        summary="results/weak_labels/seed-{split_seed}/{weak_kind}/summary.csv",
    log:
        "results/logs/weak_labels/seed-{split_seed}/{weak_kind}.log",
    benchmark:
        "results/benchmarks/weak_labels/seed-{split_seed}/{weak_kind}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("weak_labels"),
    params:
        call=stage_call("weak_labels"),
        files=stage_files,
    shell:
        stage_shell("weak_labels")


rule augment:
    input:
        images=tile_files()["images"],
        masks=tile_files()["masks"],
        tiles=tile_files()["tiles"],
        splits=rules.split.output.splits,
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
        call=stage_call("augment"),
        files=stage_files,
    shell:
        stage_shell("augment")


rule stats:
    input:
        images=tile_files()["images"],
        tiles=tile_files()["tiles"],
        splits=rules.split.output.splits,
    output:
        stats="results/stats/seed-{split_seed}/stats.json",
    log:
        "results/logs/stats/seed-{split_seed}.log",
    benchmark:
        "results/benchmarks/stats/seed-{split_seed}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        **job_resources("stats"),
    params:
        call=stage_call("stats"),
        files=stage_files,
    shell:
        stage_shell("stats")
